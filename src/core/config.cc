// config.cc: reads and checks exoauthd.conf, whose format is documented in
// exoauthd.conf(5). Called by exoauthd (start, reload) and exoauthctl. The
// file is written by the administrator: trusted in intent, but every line is
// checked strictly; the first unknown or malformed thing is refused with
// "path:line: reason", and the caller's Config is replaced only on success.

#include "config.hh"

#include "credfile.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <utility>

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

namespace exo {
namespace {

constexpr size_t kMaxFile = 1024 * 1024;   // whole file, bytes
constexpr size_t kMaxLine = 4096;          // one line without its newline
constexpr size_t kMaxSunPath = 107;        // sizeof(sun_path) - 1
constexpr size_t kMaxName = 64;            // [listen NAME], [account NAME]
constexpr size_t kMaxTenant = 253;         // a DNS name
constexpr size_t kMaxId = 32;              // a user or group name
constexpr size_t kMaxQuoted = 64;          // bytes of a value echoed in a message
constexpr uint64_t kMaxNumericId = 4294967294u; // (uid_t)-1 is "no id"

enum class Section { None, Global, Idp, Listen, Account, Peer, Validate };

struct KeyLine {
    const char *key; // from the key table, so it outlives the parser
    int line;
};

struct SeenSection {
    std::string label; // "[account relay]"
    int line;
};

// Everything the parser knows while it walks the file.
struct Parser {
    explicit Parser(const std::string &p) : path(p) {}
    const std::string &path;
    Config cfg;
    int line = 0;                        // current line, 1-based
    Section section = Section::None;     // the open section
    std::string label;                   // its label, for messages
    int section_line = 0;                // its header's line
    std::vector<KeyLine> keys;           // keys seen in it
    std::vector<SeenSection> sections;   // every header so far
    ListenConfig listen;                 // the open [listen], if any
    AccountConfig account;               // the open [account], if any
    PeerConfig peer;                     // the open [peer], if any
    std::string error;
};

using Setter = bool (*)(Parser &p, std::string_view value, std::string &why);

struct KeyHandler {
    Section section;
    const char *key;
    bool may_be_empty;
    Setter set;
};

template <typename T> struct Choice {
    const char *name;
    T value;
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

// ---- small text helpers -------------------------------------------------

// True for the blanks that separate things inside a line.
bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

// s without leading and trailing blanks.
std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back()))
        s.remove_suffix(1);
    return s;
}

// True for C0 control bytes and DEL.
bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

// True when s holds a control byte (tab included).
bool has_control(std::string_view s)
{
    for (char c : s)
        if (is_control(static_cast<unsigned char>(c)))
            return true;
    return false;
}

// Length of the UTF-8 sequence starting at s[i], 0 when it is malformed
// (bad lead, truncated, overlong, surrogate or above U+10FFFF).
size_t utf8_seq(std::string_view s, size_t i)
{
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || i + n > s.size())
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((b(i + k) & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && b(i + 1) < 0xa0) || (c == 0xed && b(i + 1) > 0x9f) ||
        (c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) > 0x8f))
        return 0;
    return n;
}

// True when s is well-formed UTF-8.
bool valid_utf8(std::string_view s)
{
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8_seq(s, i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

// s in double quotes for a message: control bytes shown as '?', long text cut.
std::string quote(std::string_view s)
{
    bool cut = s.size() > kMaxQuoted;
    if (cut) {
        s = s.substr(0, kMaxQuoted);
        while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xc0) == 0x80)
            s.remove_suffix(1);
        if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xc0)
            s.remove_suffix(1);
    }
    std::string q = "\"";
    for (char c : s)
        q += is_control(static_cast<unsigned char>(c)) ? '?' : c;
    return q + (cut ? "...\"" : "\"");
}

// True when every byte of s is an ASCII letter, a digit or one of extra.
bool only_chars(std::string_view s, const char *extra)
{
    for (char c : s) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && std::strchr(extra, c) == nullptr)
            return false;
    }
    return true;
}

// Reads a run of at most max_digits decimal digits as an unsigned number.
bool parse_digits(std::string_view s, size_t max_digits, uint64_t &out)
{
    if (s.empty() || s.size() > max_digits)
        return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = v;
    return true;
}

// The words of a value, split at spaces.
std::vector<std::string_view> words(std::string_view v)
{
    std::vector<std::string_view> out;
    while (!(v = trim(v)).empty()) {
        size_t end = v.find(' ');
        out.push_back(v.substr(0, end));
        v = end == std::string_view::npos ? std::string_view() : v.substr(end);
    }
    return out;
}

// True for ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = static_cast<char>(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

// ---- value checks -------------------------------------------------------

// True for a [listen]/[account] name: [A-Za-z0-9._@-]{1,64}.
bool valid_section_name(std::string_view s)
{
    return !s.empty() && s.size() <= kMaxName && only_chars(s, "._@-");
}

// True for a user or group name (letters, digits, . _ -, an optional final
// $, not starting with -) or a numeric id.
bool valid_id(std::string_view s)
{
    uint64_t n = 0;
    if (parse_digits(s, 10, n))
        return n <= kMaxNumericId;
    if (s.empty() || s.size() > kMaxId || s.front() == '-')
        return false;
    if (s.back() == '$')
        s.remove_suffix(1);
    return !s.empty() && only_chars(s, "._-");
}

// True for the GUID form 8-4-4-4-12 of hex digits.
bool valid_guid(std::string_view s)
{
    if (s.size() != 36)
        return false;
    for (size_t i = 0; i < s.size(); i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

// True for an authority URL: https://host[/path], ASCII without blanks, no
// trailing slash, query or fragment.
bool valid_authority(std::string_view s)
{
    constexpr std::string_view scheme = "https://";
    if (s.size() <= scheme.size() || s.substr(0, scheme.size()) != scheme)
        return false;
    if (s.back() == '/' || s[scheme.size()] == '/')
        return false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#')
            return false;
    }
    return true;
}

// Sets out to the choice named v, or explains the accepted names in why.
template <typename T, size_t N>
bool pick(std::string_view v, const Choice<T> (&choices)[N], T &out, std::string &why)
{
    for (const auto &c : choices) {
        if (v == c.name) {
            out = c.value;
            return true;
        }
    }
    why = "expected ";
    for (size_t i = 0; i < N; i++)
        why += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + choices[i].name;
    return false;
}

// A whole number in [lo, hi].
bool parse_int(std::string_view v, int lo, int hi, int &out, std::string &why)
{
    uint64_t n = 0;
    if (!parse_digits(v, 9, n) || n < static_cast<uint64_t>(lo) || n > static_cast<uint64_t>(hi)) {
        why = "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi);
        return false;
    }
    out = static_cast<int>(n);
    return true;
}

// An octal permission mode from 0 to 0777 (leading 0 optional).
bool parse_mode(std::string_view v, mode_t &out, std::string &why)
{
    mode_t m = 0;
    bool ok = !v.empty() && v.size() <= 4;
    for (char c : v) {
        ok = ok && c >= '0' && c <= '7';
        m = static_cast<mode_t>(m * 8 + static_cast<mode_t>(c - '0'));
    }
    if (!ok || m > 0777) {
        why = "expected an octal mode from 0000 to 0777";
        return false;
    }
    out = m;
    return true;
}

// An absolute path of at most max bytes.
bool parse_path(std::string_view v, size_t max, std::string &out, std::string &why)
{
    if (v.front() != '/') {
        why = "expected an absolute path";
        return false;
    }
    if (v.size() > max) {
        why = "longer than " + std::to_string(max) + " bytes";
        return false;
    }
    out.assign(v);
    return true;
}

// One user or group name or numeric id; empty is allowed (keep / stay).
bool parse_id(std::string_view v, std::string &out, std::string &why)
{
    if (!v.empty() && !valid_id(v)) {
        why = "expected a user or group name or a numeric id";
        return false;
    }
    out.assign(v);
    return true;
}

// A space separated list of names or numeric ids, possibly empty.
bool parse_id_list(std::string_view v, std::vector<std::string> &out, std::string &why)
{
    std::vector<std::string> ids;
    for (std::string_view w : words(v)) {
        if (!valid_id(w)) {
            why = "expected names or numeric ids separated by spaces";
            return false;
        }
        ids.emplace_back(w);
    }
    out = std::move(ids);
    return true;
}

// Words each of which is one of allowed (a null-ended list), possibly none.
bool parse_word_set(std::string_view v, const char *const *allowed, std::vector<std::string> &out,
                    std::string &why)
{
    std::vector<std::string> picked;
    for (std::string_view w : words(v)) {
        const char *const *a = allowed;
        while (*a && w != *a)
            a++;
        if (!*a) {
            why = "unknown word " + quote(w) + "; expected words of:";
            for (a = allowed; *a; a++)
                why += std::string(" ") + *a;
            return false;
        }
        picked.emplace_back(w);
    }
    out = std::move(picked);
    return true;
}

// Account names or "*", space separated (checked against [account]s at the end).
bool parse_account_list(std::string_view v, std::vector<std::string> &out, std::string &why)
{
    std::vector<std::string> names;
    for (std::string_view w : words(v)) {
        if (w != "*" && !valid_section_name(w)) {
            why = "expected account names or \"*\" separated by spaces";
            return false;
        }
        names.emplace_back(w);
    }
    out = std::move(names);
    return true;
}

const char *const kCommands[] = {"PING", "STATUS", "VALIDATE", "TOKEN", "INVALIDATE", "LOGIN", nullptr};
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

// Scope tokens (RFC 6749 section 3.3), stored joined by single spaces.
bool parse_scope(std::string_view v, std::string &out, std::string &why)
{
    std::string joined;
    for (std::string_view w : words(v)) {
        for (char c : w) {
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) > 0x7e) {
                why = "scope tokens are printable ASCII without '\"' or '\\'";
                return false;
            }
        }
        joined += (joined.empty() ? "" : " ") + std::string(w);
    }
    out = std::move(joined);
    return true;
}

// A tenant: a GUID or a DNS name, [A-Za-z0-9.-]{1,253}.
bool parse_tenant(std::string_view v, std::string &out, std::string &why)
{
    if (v.size() > kMaxTenant || !only_chars(v, ".-")) {
        why = "expected a tenant id (GUID) or domain name";
        return false;
    }
    out.assign(v);
    return true;
}

// An application (client) id in GUID form.
bool parse_client_id(std::string_view v, std::string &out, std::string &why)
{
    if (!valid_guid(v)) {
        why = "expected a GUID like 00000000-0000-0000-0000-000000000000";
        return false;
    }
    out.assign(v);
    return true;
}

// An authority URL for cloud = custom.
bool parse_authority(std::string_view v, std::string &out, std::string &why)
{
    if (!valid_authority(v)) {
        why = "expected https://host[/path] without a trailing slash, query or fragment";
        return false;
    }
    out.assign(v);
    return true;
}

// Stores a string choice (log, assertion_alg).
bool pick_string(std::string_view v, const Choice<const char *> (&choices)[2], std::string &out,
                 std::string &why)
{
    const char *name = nullptr;
    if (!pick(v, choices, name, why))
        return false;
    out = name;
    return true;
}

// ---- the key table ------------------------------------------------------

#define SETTER [](Parser & p, std::string_view v, std::string & why) -> bool

// Space-separated printable words (audiences, issuers, scopes, roles).
bool parse_words(std::string_view v, std::vector<std::string> &out, std::string &why)
{
    std::string joined;
    if (!parse_scope(v, joined, why))
        return false;
    out.clear();
    for (std::string_view w : words(joined))
        out.emplace_back(w);
    return true;
}

// A choice among more than two strings.
template <size_t N>
bool pick_word(std::string_view v, const Choice<const char *> (&choices)[N], std::string &out,
               std::string &why)
{
    const char *chosen = nullptr;
    if (!pick(v, choices, chosen, why))
        return false;
    out = chosen;
    return true;
}

const KeyHandler kKeys[] = {
    {Section::Global, "user", true, SETTER { return parse_id(v, p.cfg.user, why); }},
    {Section::Global, "state_dir", false,
     SETTER { return parse_path(v, kMaxLine, p.cfg.state_dir, why); }},
    {Section::Global, "log", false, SETTER { return pick_string(v, kLogs, p.cfg.log, why); }},
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
    {Section::Listen, "path", false,
     SETTER { return parse_path(v, kMaxSunPath, p.listen.path, why); }},
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
     SETTER { return pick_string(v, kAlgs, p.account.assertion_alg, why); }},
    {Section::Account, "secret_file", false,
     SETTER { return parse_path(v, kMaxLine, p.account.secret_file, why); }},
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

// Records "path:line: why" for the current line and returns false.
bool fail(Parser &p, const std::string &why)
{
    return fail_at(p, p.line, why);
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

// [idp]: the authority comes from the cloud unless the cloud is custom.
bool close_idp(Parser &p)
{
    int line = key_line(p, "authority");
    if (p.cfg.cloud == Cloud::Custom && line == 0)
        return fail_missing(p, "authority", " (required with cloud = custom)");
    if (p.cfg.cloud != Cloud::Custom && line != 0)
        return fail_at(p, line, "\"authority\" is only allowed with cloud = custom in [idp]");
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

// Every account a [peer] names exists.
bool check_peer_accounts(Parser &p)
{
    for (const auto &peer : p.cfg.peers)
        for (const auto &a : peer.accounts)
            if (a != "*" && !p.cfg.find_account(a))
                return fail_at(p, peer.line, "[peer " + peer.name + "] names unknown account " + quote(a));
    return true;
}

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
    p.section = Section::None;
    p.keys.clear();
    return ok;
}

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
        return fail(p, "invalid value " + quote(value) + " for " + quote(key) + " in " + p.label +
                           ": " + why);
    return true;
}

// One line without its line ending: blank, comment, header or assignment.
bool parse_line(Parser &p, std::string_view raw)
{
    if (raw.size() > kMaxLine)
        return fail(p, "line longer than " + std::to_string(kMaxLine) + " bytes");
    if (!valid_utf8(raw))
        return fail(p, "invalid UTF-8");
    std::string_view s = trim(raw);
    if (s.empty() || s.front() == '#')
        return true;
    if (s.front() == '[')
        return open_section(p, s);
    return parse_assignment(p, s);
}

// The two sockets used when the file names none. Both are 0666: who may
// talk is decided by the peer allow-list (SO_PEERCRED) and, for the one in
// Postfix's chroot, by its directory (exoauth:postfix 0750, made by the
// package), so exoauthd needs no privilege to make them.
void add_default_listens(Config &cfg)
{
    ListenConfig main;
    main.name = "main";
    main.path = RUNSTATEDIR "/exoauth/exoauthd.sock";
    main.mode = 0666;
    cfg.listens.push_back(std::move(main));
    ListenConfig postfix;
    postfix.name = "postfix";
    postfix.path = "/var/spool/postfix/exoauth/exoauthd.sock";
    postfix.mode = 0666;
    postfix.optional = true;
    cfg.listens.push_back(std::move(postfix));
}

// The scope an account gets when it names none.
std::string default_scope(Cloud cloud, Grant grant)
{
    if (grant == Grant::ClientCredentials)
        return std::string("https://") + cloud_outlook_host(cloud) + "/.default";
    std::string host = cloud == Cloud::Worldwide || cloud == Cloud::Custom
                           ? "outlook.office.com"
                           : cloud_outlook_host(cloud);
    std::string base = "https://" + host + "/";
    return "offline_access " + base + "SMTP.Send " + base + "IMAP.AccessAsUser.All " + base +
           "POP.AccessAsUser.All";
}

// End of file: close the last section and fill in what depends on all of it.
bool finish(Parser &p)
{
    if (!close_section(p) || !check_peer_accounts(p))
        return false;
    if (p.cfg.listens.empty())
        add_default_listens(p.cfg);
    if (p.cfg.cloud != Cloud::Custom)
        p.cfg.authority = cloud_authority(p.cfg.cloud);
    for (auto &a : p.cfg.accounts)
        if (a.scope.empty())
            a.scope = default_scope(p.cfg.cloud, a.grant);
    return true;
}

// config_parse without the exception guard.
bool parse_text(std::string_view text, const std::string &path, Config &out, std::string &error)
{
    if (text.size() > kMaxFile) {
        error = path + ": larger than 1 MiB";
        return false;
    }
    if (text.substr(0, 3) == "\xef\xbb\xbf")
        text.remove_prefix(3);
    Parser p(path);
    p.cfg.path = path;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        p.line++;
        if (!parse_line(p, line)) {
            error = std::move(p.error);
            return false;
        }
        pos = end + 1;
    }
    if (!finish(p)) {
        error = std::move(p.error);
        return false;
    }
    out = std::move(p.cfg);
    return true;
}

// ca_file adds trust anchors for every HTTPS request: whoever could change
// it could stand in for Entra ID, so it follows the rule for policy files.
bool check_ca_file(const Config &cfg, std::string &error)
{
    static const CredRule rule{"ca_file", CredKind::Policy, kMaxFile};
    Secret pem;
    uid_t owner;
    if (cfg.ca_file.empty())
        return true;
    if (!cred_read_owned(cfg.ca_file, rule, pem, owner, error))
        return false;
    if (cred_owner_ok(cfg.ca_file, owner, cfg.user, error))
        return true;
    error = "ca_file " + error;
    return false;
}

// config_load without the exception guard: credfile.hh's rule for policy
// files; the owner may also be the "user =" the file itself names.
bool load_file(const std::string &path, Config &out, std::string &error)
{
    static const CredRule rule{"config", CredKind::Policy, kMaxFile};
    Secret text;
    uid_t owner;
    Config cfg;
    if (!cred_read_owned(path, rule, text, owner, error) || !parse_text(text.str(), path, cfg, error))
        return false;
    if (!cred_owner_ok(path, owner, cfg.user, error)) {
        error = "config " + error;
        return false;
    }
    if (!check_ca_file(cfg, error))
        return false;
    out = std::move(cfg);
    return true;
}

// Reports an exception (in practice: out of memory) as an error string.
bool exception_error(const std::string &path, std::string &error)
{
    try {
        error = path + ": out of memory";
    } catch (...) {
        error.clear();
    }
    return false;
}

} // namespace

// True for a tenant id in GUID form.
bool is_guid(std::string_view s)
{
    return valid_guid(s);
}

// True for the tenant names that stand for many tenants.
bool is_multi_tenant(std::string_view tenant)
{
    return iequals(tenant, "common") || iequals(tenant, "organizations") || iequals(tenant, "consumers");
}

// True for preferred_username and email.
bool is_mutable_user_claim(std::string_view claim)
{
    return claim == "preferred_username" || claim == "email";
}

// The account named name, or null.
const AccountConfig *Config::find_account(std::string_view name) const
{
    for (const auto &a : accounts)
        if (a.name == name)
            return &a;
    return nullptr;
}

// Authority base URL of a cloud; "" for Custom (the file gives it).
const char *cloud_authority(Cloud c)
{
    switch (c) {
    case Cloud::Worldwide: return "https://login.microsoftonline.com";
    case Cloud::UsGov:
    case Cloud::UsGovDod: return "https://login.microsoftonline.us";
    case Cloud::China: return "https://login.chinacloudapi.cn";
    case Cloud::Custom: break;
    }
    return "";
}

// Exchange Online host of a cloud; Custom (tests) uses the worldwide one.
const char *cloud_outlook_host(Cloud c)
{
    switch (c) {
    case Cloud::UsGov: return "outlook.office365.us";
    case Cloud::UsGovDod: return "outlook-dod.office365.us";
    case Cloud::China: return "partner.outlook.cn";
    case Cloud::Worldwide:
    case Cloud::Custom: break;
    }
    return "outlook.office365.com";
}

// Parses text into out; on failure out is untouched and error says where.
bool config_parse(std::string_view text, const std::string &path, Config &out, std::string &error)
{
    try {
        return parse_text(text, path, out, error);
    } catch (...) {
        return exception_error(path, error);
    }
}

// Reads path (credfile.hh's rule for policy files, at most 1 MiB) and parses it.
bool config_load(const std::string &path, Config &out, std::string &error)
{
    try {
        return load_file(path, out, error);
    } catch (...) {
        return exception_error(path, error);
    }
}

} // namespace exo
