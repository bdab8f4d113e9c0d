// registry.cc: exoauthd's metrics registry and its exposition (see
// registry.hh). Names follow Prometheus conventions: the exoauth_ prefix,
// base units (_seconds), _total on counters. Rendering allocates; counting
// does not (fixed arrays; a map entry only for a peer uid seen first).
#include "exoauth_config.h"

#include "registry.hh"

#include "clock.hh"
#include "connection.hh"
#include "validator.hh"

#include <cstring>

namespace exo {

namespace {

// A refusal reason's prefix (jwt.cc, validator.cc, handlers.cc) and its label;
// the first match wins.
struct ReasonPrefix {
    const char *prefix;
    const char *label;
};
const ReasonPrefix kReasonPrefixes[] = {
    {"expired", "expired"},
    {"not yet valid", "not_yet_valid"},
    {"bad signature encoding", "malformed"},
    {"bad signature", "bad_signature"},
    {"wrong audience", "wrong_audience"},
    {"wrong issuer", "wrong_issuer"},
    {"tenant not allowed", "tenant_not_allowed"},
    {"missing scope", "missing_scope"},
    {"missing role", "missing_role"},
    {"unknown kid", "unknown_kid"},
    {"no usable kid", "bad_header"},
    {"crit header", "bad_header"},
    {"alg ", "bad_header"},
    {"control byte", "control_byte"},
    {"no exp claim", "bad_claim"},
    {"no nbf claim", "bad_claim"},
    {"no iat claim", "bad_claim"},
    {"bad exp claim", "bad_claim"},
    {"bad nbf claim", "bad_claim"},
    {"bad iat claim", "bad_claim"},
    {"no ", "no_user_claim"},  // "no <user_claim> claim"
    {"token belongs to", "login_mismatch"},
    {"inactive token", "inactive"},
    {"bad base64url", "malformed"},
    {"not a JWS", "malformed"},
    {"empty token", "malformed"},
    {"token too large", "malformed"},
    {"header", "malformed"},
    {"payload", "malformed"},
};

// Index of word in a table of n names; last (the catch-all) if absent.
size_t index_of(const char *const *table, size_t n, const std::string &word)
{
    for (size_t i = 0; i < n; i++)
        if (word == table[i])
            return i;
    return n - 1;
}

} // namespace

// See registry.hh.
DaemonMetrics &daemon_metrics()
{
    static DaemonMetrics m;
    return m;
}

// See registry.hh.
const char *refusal_label(const std::string &reason)
{
    for (const auto &p : kReasonPrefixes)
        if (reason.compare(0, strlen(p.prefix), p.prefix) == 0)
            return p.label;
    return "other";
}

// See registry.hh.
void DaemonMetrics::count_token(const std::string &code, double seconds)
{
    token_results[index_of(kTokenResults, N_TOKEN_RESULTS, code.empty() ? "ok" : code)]++;
    token_seconds.observe(seconds);
}

// See registry.hh.
void DaemonMetrics::count_validate(const std::string &code, bool temporary, const std::string &reason,
                                   double seconds)
{
    validate_results[index_of(kValidateResults, N_VALIDATE_RESULTS, code.empty() ? "ok" : code)]++;
    validate_seconds.observe(seconds);
    if (code == "invalid_token" && !temporary) {
        std::string label = refusal_label(reason);
        refusals[index_of(kRefusalReasons, N_REFUSAL_REASONS, label)]++;
    }
}

// See registry.hh.
void DaemonMetrics::count_connection(uid_t uid)
{
    auto it = accepted_by_uid.find(uid);
    if (it != accepted_by_uid.end())
        it->second++;
    else if (accepted_by_uid.size() < MAX_UID_LABELS)
        accepted_by_uid[uid] = 1;
    else
        accepted_other++;
}

// See registry.hh.
void DaemonMetrics::count_peer_refusal(const char *reason)
{
    std::string label = reason;
    for (auto &ch : label)
        if (ch == ' ')
            ch = '_';
    if (label == "too_many_connections_from_this_user")
        label = "too_many_per_uid";
    peer_refusals[index_of(kPeerRefusals, N_PEER_REFUSALS, label)]++;
}

namespace {

// A counter family with one label over a fixed table of values.
void labelled_counts(Exposition &e, const char *name, const char *help, const char *label,
                     const char *const *values, const uint64_t *counts, size_t n)
{
    e.family(name, "counter", help);
    for (size_t i = 0; i < n; i++)
        e.sample(name, {{label, values[i]}}, (double)counts[i]);
}

// Per account: its state (one sample per state, 1 for the current one),
// seconds until its token and credentials expire, IdP requests.
void render_accounts(Exposition &e, const std::vector<AccountFigures> &accounts, double now)
{
    static const char *const states[] = {"empty", "valid", "refreshing", "backoff", "failed"};
    e.family("exoauth_account_state", "gauge", "Token state of each account: 1 for the state it is in.");
    for (const auto &a : accounts)
        for (const char *s : states)
            e.sample("exoauth_account_state", {{"account", a.name}, {"state", s}}, strcmp(a.state, s) == 0);
    e.family("exoauth_token_expires_in_seconds", "gauge",
             "Seconds until the cached access token expires; 0 without one.");
    for (const auto &a : accounts)
        e.sample("exoauth_token_expires_in_seconds", {{"account", a.name}},
                 a.token_expires > now ? (double)a.token_expires - (int64_t)now : 0);
    e.family("exoauth_credential_expires_in_seconds", "gauge",
             "Seconds until a credential expires: certificate notAfter, secret_expires, or a refresh "
             "token's estimated inactivity deadline (last refresh + 90 days). Absent when not known.");
    for (const auto &a : accounts) {
        if (a.credential_expires > 0)
            e.sample("exoauth_credential_expires_in_seconds", {{"account", a.name}, {"credential", a.credential}},
                     (double)a.credential_expires - (int64_t)now);
        if (a.refresh_deadline > 0)
            e.sample("exoauth_credential_expires_in_seconds", {{"account", a.name}, {"credential", "refresh_token"}},
                     (double)a.refresh_deadline - (int64_t)now);
    }
    e.family("exoauth_idp_requests_total", "counter", "Requests to the IdP's token endpoint, by outcome.");
    for (const auto &a : accounts)
        for (size_t i = 0; i < N_IDP_OUTCOMES; i++)
            e.sample("exoauth_idp_requests_total", {{"account", a.name}, {"outcome", kIdpOutcomes[i]}},
                     (double)a.idp[i]);
    e.family("exoauth_tokens_served_total", "counter", "Access tokens handed to TOKEN requests.");
    for (const auto &a : accounts)
        e.sample("exoauth_tokens_served_total", {{"account", a.name}}, (double)a.served);
    e.family("exoauth_tokens_rejected_total", "counter",
             "Tokens dropped because upstream (Exchange Online) rejected them (INVALIDATE).");
    for (const auto &a : accounts)
        e.sample("exoauth_tokens_rejected_total", {{"account", a.name}}, (double)a.rejected);
}

// TOKEN and VALIDATE: results, refusal reasons, latencies.
void render_requests(Exposition &e, const DaemonMetrics &m)
{
    labelled_counts(e, "exoauth_token_requests_total", "TOKEN requests, by result.", "result", kTokenResults,
                    m.token_results, N_TOKEN_RESULTS);
    e.family("exoauth_token_request_duration_seconds", "histogram", "Time to answer a TOKEN request.");
    e.histogram("exoauth_token_request_duration_seconds", {}, m.token_seconds);
    labelled_counts(e, "exoauth_validate_requests_total", "VALIDATE requests, by result.", "result",
                    kValidateResults, m.validate_results, N_VALIDATE_RESULTS);
    e.family("exoauth_validate_request_duration_seconds", "histogram", "Time to answer a VALIDATE request.");
    e.histogram("exoauth_validate_request_duration_seconds", {}, m.validate_seconds);
    labelled_counts(e, "exoauth_validation_refusals_total", "Client tokens refused by VALIDATE, by reason.",
                    "reason", kRefusalReasons, m.refusals, N_REFUSAL_REASONS);
    e.family("exoauth_idp_request_duration_seconds", "histogram",
             "Duration of requests to the IdP's token endpoint.");
    e.histogram("exoauth_idp_request_duration_seconds", {}, m.idp_seconds);
}

// Key sets, connections, peers turned away.
void render_daemon(Exposition &e, const DaemonMetrics &m, const Validator &v, const ServerFigures &s)
{
    e.family("exoauth_jwks_fetches_total", "counter", "Fetches of the tenant's signing key set, by result.");
    e.sample("exoauth_jwks_fetches_total", {{"result", "ok"}}, (double)m.jwks_fetches_ok);
    e.sample("exoauth_jwks_fetches_total", {{"result", "failed"}}, (double)m.jwks_fetches_failed);
    e.family("exoauth_jwks_keys", "gauge", "Signing keys in the cached key set.");
    e.sample("exoauth_jwks_keys", {}, (double)v.keys());
    e.family("exoauth_connections_total", "counter", "Connections accepted, by peer uid.");
    for (const auto &[uid, n] : m.accepted_by_uid)
        e.sample("exoauth_connections_total", {{"uid", std::to_string(uid)}}, (double)n);
    if (m.accepted_other)
        e.sample("exoauth_connections_total", {{"uid", "other"}}, (double)m.accepted_other);
    e.family("exoauth_connections", "gauge", "Open connections, by peer uid.");
    for (const auto &[uid, n] : s.per_uid)
        e.sample("exoauth_connections", {{"uid", std::to_string(uid)}}, (double)n);
    labelled_counts(e, "exoauth_refused_connections_total", "Peers turned away at connect, by reason.",
                    "reason", kPeerRefusals, m.peer_refusals, N_PEER_REFUSALS);
    e.family("exoauth_requests_total", "counter", "Request lines received.");
    e.sample("exoauth_requests_total", {}, (double)s.requests);
}

} // namespace

// See registry.hh.
std::string render_metrics(const DaemonMetrics &m, const std::vector<AccountFigures> &accounts,
                           const Validator &validator, const ServerFigures &server)
{
    Exposition e;
    e.family("exoauth_build_info", "gauge", "exoauthd's version; always 1.");
    e.sample("exoauth_build_info", {{"version", PACKAGE_VERSION}}, 1);
    e.family("exoauth_start_time_seconds", "gauge", "When exoauthd started, unix seconds.");
    e.sample("exoauth_start_time_seconds", {}, m.start_time);
    render_accounts(e, accounts, wall_now());
    render_requests(e, m);
    render_daemon(e, m, validator, server);
    return e.text();
}

} // namespace exo
