// config_keys.cc: what exoauthd.conf may say (exoauthd.conf(5)): the key
// table (kKeys: section, key, whether it may be empty, and its setter), the
// sections and their names, and the rules each section must keep as a
// whole when it closes. Called line by line by the loader (config.cc);
// values are checked by config_text.cc.

#include "config_keys.hh"

#include "config_text.hh"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstring>
#include <utility>

namespace exo::conf {
namespace {

using Setter = bool (*)(Parser &p, std::string_view value, std::string &why);

struct KeyHandler {
    Section section;
    const char *key;
    bool may_be_empty;
    Setter set;
};

const Choice<Cloud> kClouds[] = {
    {"worldwide", Cloud::Worldwide}, {"usgov", Cloud::UsGov},
    {"usgov-dod", Cloud::UsGovDod},  {"china", Cloud::China},
    {"custom", Cloud::Custom},
};
const Choice<Grant> kGrants[] = {
    {"client_credentials", Grant::ClientCredentials},
    {"refresh_token", Grant::RefreshToken},
};
const Choice<const char *> kLogs[] = {{"stderr", "stderr"}, {"syslog", "syslog"}};
const Choice<const char *> kAlgs[] = {{"PS256", "PS256"}, {"RS256", "RS256"}};
const Choice<bool> kBools[] = {{"yes", true}, {"no", false}};
const Choice<const char *> kModes[] = {{"jwt", "jwt"}, {"introspection", "introspection"}};
const Choice<const char *> kUserClaims[] = {
    {"upn", "upn"}, {"preferred_username", "preferred_username"}, {"email", "email"}, {"oid", "oid"}};

const char *const kCommands[] = {"PING", "STATUS", "VALIDATE", "TOKEN", "INVALIDATE", "LOGIN", "METRICS", nullptr};
const char *const kTokenBy[] = {"account", "user", nullptr};

// token_by: which forms of TOKEN a [peer] may use.
bool parse_token_by(std::string_view v, PeerConfig &peer, std::string &why)
{
    std::vector<std::string> forms;
    if (!parse_word_set(v, kTokenBy, forms, why))
        return false;
    peer.token_by_account = std::find(forms.begin(), forms.end(), "account") != forms.end();
    peer.token_by_user = std::find(forms.begin(), forms.end(), "user") != forms.end();
    return true;
}

// True for an IPv4 or IPv6 loopback address (127.0.0.0/8, ::1).
bool is_loopback(const std::string &host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

// listen in [metrics]: 127.0.0.1:PORT, [::1]:PORT or a socket path.
// Metrics are for this host's collector only: anything else is refused.
bool parse_metrics_listen(std::string_view v, MetricsConfig &m, std::string &why)
{
    if (!v.empty() && v.front() == '/')
        return store_socket_path(v, SocketBase::None, m.path, why);
    size_t colon = v.rfind(':');
    bool bracket = !v.empty() && v.front() == '[';
    std::string host(colon == std::string_view::npos ? v : v.substr(0, colon));
    if (bracket && host.size() >= 2 && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    else if (bracket || host.find(':') != std::string::npos)
        host.clear();  // an IPv6 address without its brackets
    if (colon == std::string_view::npos || !is_loopback(host)) {
        why = "must be a loopback address and port (127.0.0.1:PORT or [::1]:PORT) or a socket path: " +
              quote(std::string(v)) + " is not, and metrics are never served to the network";
        return false;
    }
    m.host = host;
    return parse_int(v.substr(colon + 1), 1, 65535, m.port, why);
}

// command: an absolute program path and its arguments, split at blanks;
// no shell runs it, so quotes and backslashes would not mean what they seem.
bool parse_command(std::string_view v, std::vector<std::string> &argv, std::string &why)
{
    constexpr size_t kMaxArgs = 32;
    if (v.find_first_of("\"'\\") != std::string_view::npos) {
        why = "no shell runs the command: arguments are split at blanks, quotes and backslashes are not allowed";
        return false;
    }
    std::vector<std::string> words_out;
    if (!parse_words(v, words_out, why))
        return false;
    if (words_out.size() > kMaxArgs) {
        why = "more than " + std::to_string(kMaxArgs) + " words";
        return false;
    }
    std::string program;
    if (!parse_path(words_out.front(), kMaxLine, program, why))
        return false;
    argv = std::move(words_out);
    return true;
}

// ---- the key table ------------------------------------------------------

#define SETTER [](Parser & p, std::string_view v, std::string & why) -> bool

const KeyHandler kKeys[] = {
    {Section::Global, "user", true, SETTER { return parse_id(v, p.cfg.user, why); }},
    {Section::Global, "state_dir", false,
     SETTER { return parse_path(v, kMaxLine, p.cfg.state_dir, why); }},
    {Section::Global, "log", false, SETTER { return pick_word(v, kLogs, p.cfg.log, why); }},
    {Section::Global, "debug", false, SETTER { return pick(v, kBools, p.cfg.debug, why); }},
    {Section::Global, "allow_users", true,
     SETTER { return parse_id_list(v, p.cfg.allow_users, why); }},
    {Section::Global, "allow_groups", true,
     SETTER { return parse_id_list(v, p.cfg.allow_groups, why); }},
    {Section::Global, "mailbox_map", false,
     SETTER { return parse_path(v, kMaxLine, p.cfg.mailbox_map, why); }},
    {Section::Global, "admin_users", true,
     SETTER { return parse_id_list(v, p.cfg.admin_users, why); }},
    {Section::Global, "refresh_ahead", false,
     SETTER { return parse_int(v, 0, 3600, p.cfg.refresh_ahead, why); }},
    {Section::Global, "http_timeout", false,
     SETTER { return parse_int(v, 1, 120, p.cfg.http_timeout, why); }},
    {Section::Global, "max_clients", false,
     SETTER { return parse_int(v, 1, 65536, p.cfg.max_clients, why); }},
    {Section::Global, "max_clients_per_uid", false,
     SETTER { return parse_int(v, 1, 65536, p.cfg.max_clients_per_uid, why); }},
    {Section::Global, "idle_timeout", false,
     SETTER { return parse_int(v, 1, 86400, p.cfg.idle_timeout, why); }},
    {Section::Idp, "cloud", false, SETTER { return pick(v, kClouds, p.cfg.cloud, why); }},
    {Section::Idp, "authority", false, SETTER { return parse_authority(v, p.cfg.authority, why); }},
    {Section::Idp, "ca_file", false, SETTER { return parse_path(v, kMaxLine, p.cfg.ca_file, why); }},
    {Section::Idp, "proxy", false, SETTER { return parse_proxy(v, p.cfg.proxy, why); }},
    {Section::Idp, "no_proxy", false, SETTER { return parse_no_proxy(v, p.cfg.no_proxy, why); }},
    {Section::Listen, "path", false,
     SETTER { return store_socket_path(v, SocketBase::None, p.listen.path, why); }},
    {Section::Listen, "owner", true, SETTER { return parse_id(v, p.listen.owner, why); }},
    {Section::Listen, "group", true, SETTER { return parse_id(v, p.listen.group, why); }},
    {Section::Listen, "mode", false, SETTER { return parse_mode(v, p.listen.mode, why); }},
    {Section::Account, "tenant", false, SETTER { return parse_tenant(v, p.account.tenant, why); }},
    {Section::Account, "client_id", false,
     SETTER { return parse_client_id(v, p.account.client_id, why); }},
    {Section::Account, "grant", false, SETTER { return pick(v, kGrants, p.account.grant, why); }},
    {Section::Account, "certificate", false,
     SETTER { return parse_path(v, kMaxLine, p.account.certificate, why); }},
    {Section::Account, "private_key", false,
     SETTER { return parse_path(v, kMaxLine, p.account.private_key, why); }},
    {Section::Account, "assertion_alg", false,
     SETTER { return pick_word(v, kAlgs, p.account.assertion_alg, why); }},
    {Section::Account, "secret_file", false,
     SETTER { return parse_path(v, kMaxLine, p.account.secret_file, why); }},
    {Section::Account, "secret_expires", false,
     SETTER { return parse_date(v, p.account.secret_expires, why); }},
    {Section::Account, "scope", false, SETTER { return parse_scope(v, p.account.scope, why); }},
    {Section::Peer, "users", true, SETTER { return parse_id_list(v, p.peer.users, why); }},
    {Section::Peer, "groups", true, SETTER { return parse_id_list(v, p.peer.groups, why); }},
    {Section::Peer, "commands", true,
     SETTER { return parse_word_set(v, kCommands, p.peer.commands, why); }},
    {Section::Peer, "accounts", true, SETTER { return parse_account_list(v, p.peer.accounts, why); }},
    {Section::Peer, "token_by", true, SETTER { return parse_token_by(v, p.peer, why); }},
    {Section::Validate, "mode", false, SETTER { return pick_word(v, kModes, p.cfg.validate.mode, why); }},
    {Section::Validate, "tenant", false, SETTER { return parse_tenant(v, p.cfg.validate.tenant, why); }},
    {Section::Validate, "audience", false, SETTER { return parse_words(v, p.cfg.validate.audiences, why); }},
    {Section::Validate, "issuer", false, SETTER { return parse_words(v, p.cfg.validate.issuers, why); }},
    {Section::Validate, "tenants", false, SETTER { return parse_words(v, p.cfg.validate.tenants, why); }},
    {Section::Validate, "scopes", false, SETTER { return parse_words(v, p.cfg.validate.scopes, why); }},
    {Section::Validate, "roles", false, SETTER { return parse_words(v, p.cfg.validate.roles, why); }},
    {Section::Validate, "user_claim", false,
     SETTER { return pick_word(v, kUserClaims, p.cfg.validate.user_claim, why); }},
    {Section::Validate, "allow_mutable_user_claim", false,
     SETTER { return pick(v, kBools, p.cfg.validate.allow_mutable_user_claim, why); }},
    {Section::Validate, "user_map", false,
     SETTER { return parse_path(v, kMaxLine, p.cfg.validate.user_map, why); }},
    {Section::Validate, "skew", false, SETTER { return parse_int(v, 0, 300, p.cfg.validate.skew, why); }},
    {Section::Validate, "jwks_ttl", false,
     SETTER { return parse_int(v, 60, 86400, p.cfg.validate.jwks_ttl, why); }},
    {Section::Validate, "kid_refetch_interval", false,
     SETTER { return parse_int(v, 1, 3600, p.cfg.validate.kid_refetch, why); }},
    {Section::Validate, "introspection_url", false,
     SETTER { return parse_authority(v, p.cfg.validate.introspection_url, why); }},
    {Section::Validate, "client_id", false,
     SETTER { return parse_scope(v, p.cfg.validate.client_id, why); }},
    {Section::Validate, "secret_file", false,
     SETTER { return parse_path(v, kMaxLine, p.cfg.validate.secret_file, why); }},
    {Section::Alerts, "command", false, SETTER { return parse_command(v, p.cfg.alerts.command, why); }},
    {Section::Alerts, "timeout", false, SETTER { return parse_int(v, 1, 300, p.cfg.alerts.timeout, why); }},
    {Section::Alerts, "reminder", false,
     SETTER { return parse_int(v, 1, 30 * 86400, p.cfg.alerts.reminder, why); }},
    {Section::Alerts, "warn_days", false, SETTER { return parse_int(v, 1, 365, p.cfg.alerts.warn_days, why); }},
    {Section::Alerts, "idp_unreachable_after", false,
     SETTER { return parse_int(v, 1, 86400, p.cfg.alerts.idp_unreachable_after, why); }},
    {Section::Metrics, "listen", false, SETTER { return parse_metrics_listen(v, p.cfg.metrics, why); }},
    {Section::Metrics, "group", true, SETTER { return parse_id(v, p.cfg.metrics.group, why); }},
    {Section::Metrics, "mode", false, SETTER { return parse_mode(v, p.cfg.metrics.mode, why); }},
};

#undef SETTER

// The handler of key in section, or null.
const KeyHandler *find_key(Section section, std::string_view key)
{
    for (const auto &h : kKeys)
        if (h.section == section && key == h.key)
            return &h;
    return nullptr;
}

// ---- errors and bookkeeping ---------------------------------------------

// Records "path:line: why" and returns false.
bool fail_at(Parser &p, int line, const std::string &why)
{
    p.error = p.path + ":" + std::to_string(line) + ": " + why;
    return false;
}

} // namespace

// Records "path:line: why" for the current line and returns false.
bool fail(Parser &p, const std::string &why)
{
    return fail_at(p, p.line, why);
}

namespace {

// A refused value as messages show it: never a proxy URL, whose
// user:password would end up in logs and terminals.
std::string shown_value(const KeyHandler &h, std::string_view value)
{
    if (std::strcmp(h.key, "proxy") == 0)
        return "(not shown: it may hold a password)";
    return quote(value);
}

// Line where key was set in the open section, 0 when it was not.
int key_line(const Parser &p, const char *key)
{
    for (const auto &k : p.keys)
        if (std::strcmp(k.key, key) == 0)
            return k.line;
    return 0;
}

// Fails with 'missing "key" in [section]' at the section header.
bool fail_missing(Parser &p, const char *key, const char *note = "")
{
    return fail_at(p, p.section_line, std::string("missing \"") + key + "\" in " + p.label + note);
}

// ---- closing sections ---------------------------------------------------

// [idp]: the authority comes from the cloud unless the cloud is custom;
// no_proxy only makes sense with a proxy.
bool close_idp(Parser &p)
{
    int line = key_line(p, "authority");
    if (p.cfg.cloud == Cloud::Custom && line == 0)
        return fail_missing(p, "authority", " (required with cloud = custom)");
    if (p.cfg.cloud != Cloud::Custom && line != 0)
        return fail_at(p, line, "\"authority\" is only allowed with cloud = custom in [idp]");
    int no_proxy = key_line(p, "no_proxy");
    if (no_proxy != 0 && key_line(p, "proxy") == 0)
        return fail_at(p, no_proxy, "\"no_proxy\" needs \"proxy\" in [idp]");
    return true;
}

// [listen]: a path, not used by an earlier [listen].
bool close_listen(Parser &p)
{
    if (key_line(p, "path") == 0)
        return fail_missing(p, "path");
    for (const auto &l : p.cfg.listens)
        if (l.path == p.listen.path)
            return fail_at(p, key_line(p, "path"),
                           "duplicate listen path " + quote(l.path) + " (also in [listen " +
                               l.name + "])");
    p.cfg.listens.push_back(std::move(p.listen));
    return true;
}

// [account]: certificate and private_key come together, and apart from
// secret_file; sets the credential.
bool account_credential(Parser &p)
{
    AccountConfig &a = p.account;
    if (!a.certificate.empty() && a.private_key.empty())
        return fail_missing(p, "private_key", " (\"certificate\" needs it)");
    if (a.certificate.empty() && !a.private_key.empty())
        return fail_missing(p, "certificate", " (\"private_key\" needs it)");
    if (!a.certificate.empty() && !a.secret_file.empty())
        return fail_at(p, p.section_line,
                       "\"certificate\" and \"secret_file\" exclude each other in " + p.label);
    a.credential = !a.certificate.empty()   ? Credential::Certificate
                   : !a.secret_file.empty() ? Credential::Secret
                                            : Credential::None;
    int alg_line = key_line(p, "assertion_alg");
    if (alg_line != 0 && a.credential != Credential::Certificate)
        return fail_at(p, alg_line, "\"assertion_alg\" needs \"certificate\" in " + p.label);
    int exp_line = key_line(p, "secret_expires");
    if (exp_line != 0 && a.credential != Credential::Secret)
        return fail_at(p, exp_line, "\"secret_expires\" needs \"secret_file\" in " + p.label);
    return true;
}

// [account]: what the grant demands of the tenant and the credential.
bool account_grant(Parser &p)
{
    const AccountConfig &a = p.account;
    if (a.grant != Grant::ClientCredentials)
        return true;
    if (a.credential == Credential::None)
        return fail_at(p, p.section_line,
                       "missing credential in " + p.label +
                           ": client_credentials needs \"certificate\" and \"private_key\", or "
                           "\"secret_file\"");
    if (is_multi_tenant(a.tenant))
        return fail_at(p, key_line(p, "tenant"),
                       "tenant " + quote(a.tenant) + " cannot be used with grant client_credentials in " +
                           p.label);
    return true;
}

// [account]: required keys and credential rules, then keep it.
bool close_account(Parser &p)
{
    if (key_line(p, "tenant") == 0)
        return fail_missing(p, "tenant");
    if (key_line(p, "client_id") == 0)
        return fail_missing(p, "client_id");
    if (!account_credential(p) || !account_grant(p))
        return false;
    p.cfg.accounts.push_back(std::move(p.account));
    return true;
}

// [peer]: names someone; keeps it (accounts are checked at the end).
bool close_peer(Parser &p)
{
    if (p.peer.users.empty() && p.peer.groups.empty())
        return fail_at(p, p.section_line, "missing \"users\" or \"groups\" in " + p.label);
    p.peer.line = p.section_line;
    p.cfg.peers.push_back(std::move(p.peer));
    return true;
}

} // namespace

// Every account a [peer] names exists.
bool check_peer_accounts(Parser &p)
{
    for (const auto &peer : p.cfg.peers)
        for (const auto &a : peer.accounts)
            if (a != "*" && !p.cfg.find_account(a))
                return fail_at(p, peer.line, "[peer " + peer.name + "] names unknown account " + quote(a));
    return true;
}

namespace {

// [validate] jwt: tenants lists tenant ids (tid is always a GUID, kept in
// lower case); a multi-tenant word pins no tenant, so the list must say
// whose tokens are trusted.
bool validate_tenants(Parser &p)
{
    ValidateConfig &v = p.cfg.validate;
    auto to_lower = [](std::string &s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return (char)std::tolower(c); });
    };
    for (auto &t : v.tenants) {
        if (!is_guid(t))
            return fail_at(p, key_line(p, "tenants"),
                           "\"tenants\" in [validate] lists tenant ids (GUIDs), which tokens carry in tid; " +
                               quote(t) + " is not one");
        to_lower(t);
    }
    if (is_guid(v.tenant))
        to_lower(v.tenant);
    if (is_multi_tenant(v.tenant) && v.tenants.empty())
        return fail_at(p, key_line(p, "tenant"),
                       "tenant " + quote(v.tenant) + " in [validate] pins no tenant: add \"tenants = <tenant id> " +
                           "...\" naming the tenant ids (GUIDs) whose tokens are accepted");
    return true;
}

// [validate]: a user claim that the user or another tenant can set names
// a local user only when the administrator says so.
bool validate_user_claim(Parser &p)
{
    const ValidateConfig &v = p.cfg.validate;
    if (!is_mutable_user_claim(v.user_claim) || v.allow_mutable_user_claim)
        return true;
    return fail_at(p, key_line(p, "user_claim"),
                   "user_claim " + v.user_claim + " in [validate] can be set by the user or another tenant, " +
                       "so it cannot name a local user: use upn or oid, or add " +
                       "\"allow_mutable_user_claim = yes\" to [validate] to accept that risk");
}

// [alerts]: a command to run.
bool close_alerts(Parser &p)
{
    p.cfg.alerts.enabled = true;
    p.cfg.alerts.line = p.section_line;
    if (key_line(p, "command") == 0)
        return fail_missing(p, "command", " (the program to run for each alert)");
    return true;
}

// [metrics]: where to listen.
bool close_metrics(Parser &p)
{
    p.cfg.metrics.enabled = true;
    p.cfg.metrics.line = p.section_line;
    if (key_line(p, "listen") == 0)
        return fail_missing(p, "listen", " (127.0.0.1:PORT, [::1]:PORT or a socket path)");
    return true;
}

// [validate]: what each mode needs.
bool close_validate(Parser &p)
{
    ValidateConfig &v = p.cfg.validate;
    v.enabled = true;
    v.line = p.section_line;
    if (key_line(p, "audience") == 0 && v.mode == "jwt")
        return fail_missing(p, "audience");
    if (v.mode == "jwt" && key_line(p, "tenant") == 0)
        return fail_missing(p, "tenant", " (whose keys sign the tokens)");
    if (v.mode == "introspection" && key_line(p, "introspection_url") == 0)
        return fail_missing(p, "introspection_url");
    if (v.mode == "introspection" && key_line(p, "client_id") == 0)
        return fail_missing(p, "client_id");
    return (v.mode != "jwt" || validate_tenants(p)) && validate_user_claim(p);
}

} // namespace

// Checks the open section as a whole and closes it.
bool close_section(Parser &p)
{
    bool ok = true;
    if (p.section == Section::Idp)
        ok = close_idp(p);
    else if (p.section == Section::Listen)
        ok = close_listen(p);
    else if (p.section == Section::Account)
        ok = close_account(p);
    else if (p.section == Section::Peer)
        ok = close_peer(p);
    else if (p.section == Section::Validate)
        ok = close_validate(p);
    else if (p.section == Section::Alerts)
        ok = close_alerts(p);
    else if (p.section == Section::Metrics)
        ok = close_metrics(p);
    p.section = Section::None;
    p.keys.clear();
    return ok;
}

namespace {

// ---- opening sections ---------------------------------------------------

struct SectionKind {
    const char *word;
    Section section;
    bool named;
};

const SectionKind kSections[] = {
    {"global", Section::Global, false},
    {"idp", Section::Idp, false},
    {"listen", Section::Listen, true},
    {"account", Section::Account, true},
    {"peer", Section::Peer, true},
    {"validate", Section::Validate, false},
    {"alerts", Section::Alerts, false},
    {"metrics", Section::Metrics, false},
};

// Makes kind/name the open section, refusing a second one with its label.
bool begin_section(Parser &p, const SectionKind &kind, std::string_view name)
{
    std::string label = "[" + std::string(kind.word) + (name.empty() ? "" : " ") + std::string(name) + "]";
    for (const auto &s : p.sections)
        if (s.label == label)
            return fail(p, "duplicate section " + label + " (first at line " +
                               std::to_string(s.line) + ")");
    p.sections.push_back({label, p.line});
    p.section = kind.section;
    p.label = std::move(label);
    p.section_line = p.line;
    p.listen = ListenConfig();
    p.listen.name.assign(name);
    p.account = AccountConfig();
    p.account.name.assign(name);
    p.account.line = p.line;
    p.peer = PeerConfig();
    p.peer.name.assign(name);
    return true;
}

} // namespace

// A "[kind]" or "[kind NAME]" header line (already trimmed).
bool open_section(Parser &p, std::string_view s)
{
    if (!close_section(p))
        return false;
    if (s.size() < 2 || s.back() != ']')
        return fail(p, "expected \"]\" at the end of the section header");
    std::string_view inner = trim(s.substr(1, s.size() - 2));
    size_t blank = inner.find_first_of(" \t");
    std::string_view word = inner.substr(0, blank);
    std::string_view name = blank == std::string_view::npos ? "" : trim(inner.substr(blank));
    for (const auto &kind : kSections) {
        if (word != kind.word)
            continue;
        if (!kind.named && !name.empty())
            return fail(p, "section [" + std::string(word) + "] takes no name");
        if (kind.named && name.empty())
            return fail(p, "section [" + std::string(word) + "] needs a name");
        if (kind.named && !valid_section_name(name))
            return fail(p, "invalid " + std::string(word) + " name " + quote(name) +
                               ": expected 1 to 64 of A-Z a-z 0-9 . _ @ -");
        return begin_section(p, kind, name);
    }
    return fail(p, "unknown section " + quote(s));
}

// ---- lines --------------------------------------------------------------

// A "key = value" line (already trimmed) inside the open section.
bool parse_assignment(Parser &p, std::string_view s)
{
    size_t eq = s.find('=');
    if (eq == std::string_view::npos)
        return fail(p, "expected \"key = value\" or \"[section]\"");
    std::string_view key = trim(s.substr(0, eq)), value = trim(s.substr(eq + 1));
    if (key.empty())
        return fail(p, "missing key before \"=\"");
    if (p.section == Section::None)
        return fail(p, "key " + quote(key) + " before any section");
    const KeyHandler *h = find_key(p.section, key);
    if (h == nullptr)
        return fail(p, "unknown key " + quote(key) + " in " + p.label);
    if (int first = key_line(p, h->key))
        return fail(p, "duplicate key " + quote(key) + " in " + p.label + " (first at line " +
                           std::to_string(first) + ")");
    p.keys.push_back({h->key, p.line});
    if (has_control(value))
        return fail(p, "control character in the value of " + quote(key));
    if (value.empty() && !h->may_be_empty)
        return fail(p, "empty value for " + quote(key) + " in " + p.label);
    std::string why;
    if (!h->set(p, value, why))
        return fail(p, "invalid value " + shown_value(*h, value) + " for " + quote(key) + " in " +
                           p.label + ": " + why);
    return true;
}

} // namespace exo::conf
