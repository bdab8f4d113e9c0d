// status.cc: exoauthctl status: what exoauthd is doing per account, as a
// table for a person, JSON for scripts (--json), or the one line a Nagios
// or Icinga check prints (--nagios). The exit status says whether all is
// well (0), something will need a human soon (1: an account is backing off
// while its token is still served) or something is broken now (2: an
// account failed, a delegated account is not signed in, a token ran out
// while backing off, or exoauthd does not answer; a certificate within 30
// days of its end is 1, past it 2); 3 (Nagios' UNKNOWN)
// for a bad option. exoauthd's answers are untrusted
// input: only known fields are printed, JSON is built, never concatenated.
#include "ctl.hh"

#include "json.hh"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace exo::ctl {

namespace {

const char *const kDaemonFields[] = {"version", "uptime", "connections", "requests",
                                     "idp_requests", "validation_keys", "key_fetches"};
const char *const kAccountFields[] = {"name",   "grant",     "state",              "expires",   "hash",
                                      "idp_requests", "served", "signed_in", "credential",
                                      "credential_expires", "last_error"};
constexpr long long WARN_DAYS = 30;  // a certificate this close to its end needs a person soon

// A non-negative decimal field as a number, or -1.
long long number(const proto::Response &r, const char *key)
{
    const std::string *v = r.get(key);
    if (!v || v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
        return -1;
    return std::strtoll(v->c_str(), nullptr, 10);
}

// Days from now until a unix time (rounded down), for messages.
long long days_until(long long t, time_t now)
{
    return (t - (long long)now) / 86400;
}

// The certificate's end: broken once passed, soon within WARN_DAYS.
Health credential_health(const proto::Response &a, time_t now, std::string &why)
{
    long long end = number(a, "credential_expires");
    bool secret = field(a, "credential") == "secret";
    const char *what = secret ? "client secret" : "certificate";
    const char *fix = secret ? "add a new secret to the app registration, write it to secret_file and set "
                               "secret_expires"
                             : "make a new one, upload it to the app registration beside the old one and point "
                               "certificate and private_key at it";
    if (end < 0)
        return Health::Ok;
    if (end <= (long long)now) {
        why = std::string(what) + " has expired: " + fix;
        return Health::Broken;
    }
    if (days_until(end, now) >= WARN_DAYS)
        return Health::Ok;
    why = std::string(what) + " expires in " + std::to_string(days_until(end, now)) + " days: " + fix;
    return Health::Soon;
}

// How one account is doing, and why when it is not well.
Health account_health(const proto::Response &a, time_t now, std::string &why)
{
    Health cred = credential_health(a, now, why);
    if (cred == Health::Broken)
        return cred;
    std::string state = field(a, "state");
    if (state == "failed") {
        why = "failed: " + field(a, "last_error");
        return Health::Broken;
    }
    if (field(a, "grant") == "refresh_token" && field(a, "signed_in") == "no") {
        why = "not signed in: exoauthctl login " + field(a, "name");
        return Health::Broken;
    }
    if (state != "backoff")
        return cred;
    bool served = number(a, "expires") > (long long)now;
    why = std::string(served ? "backing off, cached token still served: " : "backing off, no token: ") +
          field(a, "last_error");
    return served ? Health::Soon : Health::Broken;
}

// One line per account that is not well, and the worst health.
Health overall(const std::vector<proto::Response> &accounts, std::vector<std::string> &problems)
{
    Health worst = Health::Ok;
    time_t now = time(nullptr);
    for (const auto &a : accounts) {
        std::string why;
        Health h = account_health(a, now, why);
        if (h != Health::Ok)
            problems.push_back(field(a, "name") + " " + why);
        if ((int)h > (int)worst)
            worst = h;
    }
    return worst;
}

// A field as JSON: a number when it is one, else a string.
json_t *json_field(const proto::Response &r, const char *key)
{
    long long n = number(r, key);
    return n >= 0 ? json_integer(n) : json_string(field(r, key).c_str());
}

// Known fields of r as a JSON object.
template <size_t N> JsonPtr json_fields(const proto::Response &r, const char *const (&keys)[N])
{
    JsonPtr o(json_object());
    for (const char *k : keys)
        if (r.get(k))
            json_object_set_new(o.get(), k, json_field(r, k));
    return o;
}

const char *const kHealthWords[] = {"ok", "warning", "critical"};
const char *const kNagiosWords[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

// --json
int print_json(const proto::Response &r, const std::vector<proto::Response> &accounts, Health h,
               const std::vector<std::string> &problems)
{
    JsonPtr root = json_fields(r, kDaemonFields);
    json_t *list = json_array();
    for (const auto &a : accounts)
        json_array_append_new(list, json_fields(a, kAccountFields).release());
    json_object_set_new(root.get(), "accounts", list);
    json_t *why = json_array();
    for (const auto &p : problems)
        json_array_append_new(why, json_string(p.c_str()));
    json_object_set_new(root.get(), "problems", why);
    json_object_set_new(root.get(), "health", json_string(kHealthWords[(int)h]));
    printf("%s\n", json_dump(root.get()).c_str());
    return (int)h;
}

// --nagios: "EXOAUTH OK - ..." with performance data.
int print_nagios(const std::vector<proto::Response> &accounts, Health h, const std::vector<std::string> &problems)
{
    int valid = 0;
    for (const auto &a : accounts)
        valid += field(a, "state") == "valid" || field(a, "state") == "refreshing";
    std::string text = problems.empty() ? std::to_string(accounts.size()) + " accounts, all well" : problems[0];
    for (size_t i = 1; i < problems.size(); i++)
        text += "; " + problems[i];
    for (char &c : text)
        if (c == '|')  // the separator of performance data
            c = '/';
    printf("EXOAUTH %s - %s | accounts=%zu valid=%d problems=%zu\n", kNagiosWords[(int)h], text.c_str(),
           accounts.size(), valid, problems.size());
    return (int)h;
}

// The table for a person.
int print_table(const proto::Response &r, const std::vector<proto::Response> &accounts, Health h,
                const std::vector<std::string> &problems)
{
    printf("exoauthd %s, up %s s, %s connections, %s requests, %s IdP requests\n", field(r, "version").c_str(),
           field(r, "uptime").c_str(), field(r, "connections").c_str(), field(r, "requests").c_str(),
           field(r, "idp_requests").c_str());
    printf("%-20s %-18s %-10s %-12s %-8s %-8s %-10s %s\n", "ACCOUNT", "GRANT", "STATE", "TOKEN", "IDP", "SERVED",
           "CRED DAYS", "TOKEN EXPIRES / LAST ERROR");
    time_t now = time(nullptr);
    for (const auto &a : accounts) {
        std::string last = field(a, "last_error");
        long long end = number(a, "credential_expires");
        std::string cert = end < 0 ? "-" : std::to_string(days_until(end, now));
        printf("%-20s %-18s %-10s %-12s %-8s %-8s %-10s %s%s%s\n", field(a, "name").c_str(),
               field(a, "grant").c_str(), field(a, "state").c_str(), field(a, "hash").c_str(),
               field(a, "idp_requests").c_str(), field(a, "served").c_str(), cert.c_str(),
               when(field(a, "expires")).c_str(), last.empty() || last == "-" ? "" : " / ",
               last == "-" ? "" : last.c_str());
    }
    printf("%s\n", h == Health::Ok ? "all well" : h == Health::Soon ? "needs attention soon:" : "broken now:");
    for (const auto &p : problems)
        printf("  %s\n", p.c_str());
    return (int)h;
}

// exoauthd did not answer (or answered FAIL): broken now, or UNKNOWN.
int unreachable(StatusFormat format, const std::string &error)
{
    if (format == StatusFormat::Nagios) {
        printf("EXOAUTH CRITICAL - exoauthd does not answer: %s\n", error.c_str());
        return (int)Health::Broken;
    }
    if (format == StatusFormat::Json) {
        JsonPtr root(json_object());
        json_object_set_new(root.get(), "health", json_string("critical"));
        json_object_set_new(root.get(), "error", json_string(error.c_str()));
        printf("%s\n", json_dump(root.get()).c_str());
    } else {
        fprintf(stderr, "exoauthctl: %s\n", error.c_str());
    }
    return (int)Health::Broken;
}

} // namespace

// exoauthctl status [--json | --nagios]
int cmd_status(const Options &opts, StatusFormat format)
{
    Client c;
    std::string error;
    proto::Response r;
    std::vector<proto::Response> accounts;
    if (!connect_daemon(opts, c, error) || !c.call({"1", "STATUS", {}}, r, opts.timeout_ms, error, &accounts))
        return unreachable(format, error);
    if (r.status != "OK")
        return unreachable(format, "STATUS answered " + r.status + ": " + field(r, "reason"));
    std::vector<std::string> problems;
    Health h = overall(accounts, problems);
    if (format == StatusFormat::Json)
        return print_json(r, accounts, h, problems);
    if (format == StatusFormat::Nagios)
        return print_nagios(accounts, h, problems);
    return print_table(r, accounts, h, problems);
}

} // namespace exo::ctl
