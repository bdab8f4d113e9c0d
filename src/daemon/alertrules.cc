// alertrules.cc: the alerts' rules (see alertrules.hh): the kinds and
// their fixed message ids, when an account's facts make a condition, with
// a text and the hint a person acts on (the AADSTS hints doctor gives, from
// entra.cc), and the JSON event. The text comes from the IdP's sanitized
// error line and fixed words, never from a token or a secret.
#include "alertrules.hh"

#include "entra.hh"
#include "json.hh"

#include <cstring>
#include <ctime>

namespace exo {

namespace {

// One kind of event: its severity, its stable message id, what to do.
struct Kind {
    const char *kind;
    const char *severity;
    const char *message_id;
};

const Kind kKinds[] = {
    {"account_failed", "critical", "64231a1da9d94eb7bd19a54355ab2678"},
    {"login_required", "critical", "0dedce15db1343b490d2cf8a41450d43"},
    {"credential_expiring", "warning", "fe479e53f5134aa09f4c558453f13445"},
    {"idp_unreachable", "critical", "36aabe4d12924204a13abaae5d9b0862"},
    {"token_rejected", "warning", "f3fee72905294bafa3f9c061b08cfa0f"},
    {"resolved", "info", "07cb73472b3942f7be065833cae03987"},
};

// The table entry of kind, or null.
const Kind *find_kind(const std::string &kind)
{
    for (const auto &k : kKinds)
        if (kind == k.kind)
            return &k;
    return nullptr;
}

// A date as YYYY-MM-DD (UTC).
std::string utc_date(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[16];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    return buf;
}

// The IdP's refusal: the AADSTS hint doctor gives, or the generic advice.
std::string failure_hint(const AlertFacts &f)
{
    const char *h = aadsts_hint(f.aadsts);
    if (*h)
        return h;
    return "run exoauthctl doctor " + f.account + " and check the app registration in Entra ID";
}

// A delegated account that cannot refresh without a person signing in.
bool needs_login(const AlertFacts &f)
{
    return f.delegated && (!f.signed_in || (f.permanent && f.error_code == "invalid_grant"));
}

// The login_required or account_failed condition of f, if any.
bool refusal_condition(const AlertFacts &f, AlertCondition &c)
{
    if (needs_login(f)) {
        c = {"login_required", f.account,
             "account " + f.account + " needs a person to sign in again" +
                 (f.error.empty() ? std::string(" (no refresh token stored)") : ": " + f.error),
             "run: exoauthctl login " + f.account};
        return true;
    }
    if (!f.permanent)
        return false;
    std::string code = f.aadsts ? " (AADSTS" + std::to_string(f.aadsts) + ")" : "";
    c = {"account_failed", f.account, "account " + f.account + " failed: the IdP refused its token request" +
                                          code + ": " + f.error,
         failure_hint(f)};
    return true;
}

// What to do about a credential near its end.
std::string expiry_hint(const AlertFacts &f)
{
    if (std::strcmp(f.credential, "certificate") == 0)
        return "make a new certificate, add it to the app registration, point certificate and private_key at it "
               "and run exoauthctl reload";
    if (std::strcmp(f.credential, "secret") == 0)
        return "add a new client secret to the app registration, write it to secret_file, update secret_expires "
               "and run exoauthctl reload";
    return "a refresh token unused for 90 days expires: find why exoauthd has not used it (exoauthctl status " +
           f.account + "), or run exoauthctl login " + f.account;
}

// The credential_expiring condition of f, if any.
bool expiry_condition(const AlertFacts &f, const AlertsConfig &cfg, int64_t now, AlertCondition &c)
{
    if (f.credential_expires <= 0 || f.credential_expires - now >= (int64_t)cfg.warn_days * 86400)
        return false;
    int64_t days = (f.credential_expires - now) / 86400;
    std::string when = f.credential_expires <= now ? "expired on " + utc_date(f.credential_expires)
                                                   : "expires on " + utc_date(f.credential_expires) + " (in " +
                                                         std::to_string(days) + " days)";
    c = {"credential_expiring", f.account, "account " + f.account + ": its " + f.credential + " " + when,
         expiry_hint(f)};
    return true;
}

// The idp_unreachable condition of f, if any.
bool unreachable_condition(const AlertFacts &f, const AlertsConfig &cfg, int64_t now, AlertCondition &c)
{
    if (f.failing_since <= 0 || now - (int64_t)f.failing_since < cfg.idp_unreachable_after)
        return false;
    c = {"idp_unreachable", f.account,
         "account " + f.account + ": no answer from the IdP for " + std::to_string(now - (int64_t)f.failing_since) +
             " s: " + f.error,
         "check the route (DNS, firewall, [idp] proxy) to the IdP; exoauthctl doctor " + f.account +
             " tests it"};
    return true;
}

// The token_rejected condition of f, if any.
bool rejected_condition(const AlertFacts &f, AlertCondition &c)
{
    if (!f.fresh_rejected)
        return false;
    c = {"token_rejected", f.account,
         "Exchange Online refused a fresh token of account " + f.account +
             " (the token was minutes old, so it did not expire)",
         "check the app's Exchange permissions: the service principal registered in Exchange "
         "(New-ServicePrincipal), its mailbox permissions, and SMTP AUTH enabled for the mailbox"};
    return true;
}

} // namespace

// See alertrules.hh.
const char *alert_message_id(const std::string &kind)
{
    const Kind *k = find_kind(kind);
    return k ? k->message_id : "";
}

// See alertrules.hh.
const char *alert_severity(const std::string &kind)
{
    const Kind *k = find_kind(kind);
    return k ? k->severity : "";
}

// See alertrules.hh.
std::vector<AlertCondition> alert_conditions(const std::vector<AlertFacts> &facts, const AlertsConfig &cfg,
                                             int64_t now)
{
    std::vector<AlertCondition> out;
    AlertCondition c;
    for (const auto &f : facts) {
        if (refusal_condition(f, c))
            out.push_back(c);
        if (expiry_condition(f, cfg, now, c))
            out.push_back(c);
        if (unreachable_condition(f, cfg, now, c))
            out.push_back(c);
        if (rejected_condition(f, c))
            out.push_back(c);
    }
    return out;
}

// See alertrules.hh.
std::string alert_json(const AlertEvent &e)
{
    JsonPtr o(json_object());
    if (!o)
        return "";
    json_object_set_new(o.get(), "kind", json_string(e.kind.c_str()));
    if (!e.resolves.empty())
        json_object_set_new(o.get(), "resolves", json_string(e.resolves.c_str()));
    json_object_set_new(o.get(), "severity", json_string(e.severity.c_str()));
    json_object_set_new(o.get(), "account", json_string(e.account.c_str()));
    json_object_set_new(o.get(), "message_id", json_string(e.message_id.c_str()));
    json_object_set_new(o.get(), "text", json_string(e.text.c_str()));
    json_object_set_new(o.get(), "hint", json_string(e.hint.c_str()));
    json_object_set_new(o.get(), "first_seen", json_integer(e.first_seen));
    json_object_set_new(o.get(), "time", json_integer(e.time));
    json_object_set_new(o.get(), "reminder", json_boolean(e.reminder));
    return json_dump(o.get()) + "\n";
}

} // namespace exo
