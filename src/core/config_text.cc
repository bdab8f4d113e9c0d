// config_text.cc: the text helpers and value checks of the exoauthd.conf
// parser (config_text.hh): UTF-8 and control-byte checks, quoting
// for messages, and one parser a kind of value (numbers, modes, paths, ids,
// tenants, scopes, URLs). Pure functions on string_views; every refusal
// explains itself in "why", which config_keys.cc puts after "path:line:".

#include "config_text.hh"

#include <cstring>
#include <ctime>
#include <utility>

namespace exo::conf {
namespace {

constexpr size_t kMaxName = 64;            // [listen NAME], [account NAME]
constexpr size_t kMaxTenant = 253;         // a DNS name
constexpr size_t kMaxId = 32;              // a user or group name
constexpr size_t kMaxQuoted = 64;          // bytes of a value echoed in a message
constexpr uint64_t kMaxNumericId = 4294967294u; // (uid_t)-1 is "no id"

// True for C0 control bytes and DEL.
bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
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

} // namespace

// ---- small text helpers -------------------------------------------------

// True when s holds a control byte (tab included).
bool has_control(std::string_view s)
{
    for (char c : s)
        if (is_control(static_cast<unsigned char>(c)))
            return true;
    return false;
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

// YYYY-MM-DD, a real day (timegm must give back the same fields).
bool parse_date(std::string_view v, int64_t &out, std::string &why)
{
    uint64_t y = 0, m = 0, d = 0;
    bool shape = v.size() == 10 && v[4] == '-' && v[7] == '-' && parse_digits(v.substr(0, 4), 4, y) &&
                 parse_digits(v.substr(5, 2), 2, m) && parse_digits(v.substr(8, 2), 2, d);
    struct tm tm = {};
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)m - 1;
    tm.tm_mday = (int)d;
    time_t t = shape && y >= 2000 && m >= 1 && m <= 12 && d >= 1 && d <= 31 ? timegm(&tm) : (time_t)-1;
    if (t == (time_t)-1 || tm.tm_mday != (int)d || tm.tm_mon != (int)m - 1) {
        why = "expected a date YYYY-MM-DD";
        return false;
    }
    out = (int64_t)t;
    return true;
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

namespace {

// True for a proxy's user:password: printable ASCII but / ? # @ (percent
// escapes are libcurl's to decode).
bool valid_userinfo(std::string_view s)
{
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@')
            return false;
    }
    return true;
}

// True for host:port with a DNS name, IPv4 or [IPv6] host and a port 1-65535.
bool valid_host_port(std::string_view s)
{
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return false;
    std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
    uint64_t n = 0;
    if (!parse_digits(port, 5, n) || n == 0 || n > 65535)
        return false;
    if (host.front() == '[')
        return host.size() > 2 && host.back() == ']' && only_chars(host.substr(1, host.size() - 2), ":.");
    return only_chars(host, ".-");
}

} // namespace

// http(s)://[user:password@]host:port[/]
bool parse_proxy(std::string_view v, std::string &out, std::string &why)
{
    std::string_view rest = v;
    if (rest.substr(0, 7) == "http://")
        rest.remove_prefix(7);
    else if (rest.substr(0, 8) == "https://")
        rest.remove_prefix(8);
    else
        rest = {};
    if (!rest.empty() && rest.back() == '/')
        rest.remove_suffix(1);
    size_t at = rest.rfind('@');
    std::string_view user = at == std::string_view::npos ? std::string_view() : rest.substr(0, at);
    std::string_view host_port = at == std::string_view::npos ? rest : rest.substr(at + 1);
    if (rest.empty() || !valid_userinfo(user) || !valid_host_port(host_port)) {
        why = "expected http://host:port or https://host:port, with user:password@ before the host "
              "if the proxy asks for one";
        return false;
    }
    out.assign(v);
    return true;
}

// Words of [A-Za-z0-9.:*/[]-] separated by commas or blanks.
bool parse_no_proxy(std::string_view v, std::string &out, std::string &why)
{
    std::string joined;
    for (size_t pos = 0; pos < v.size();) {
        size_t end = std::min(v.find_first_of(", ", pos), v.size());
        std::string_view w = v.substr(pos, end - pos);
        pos = end + 1;
        if (w.empty())
            continue;
        if (!only_chars(w, ".:*/[]-")) {
            why = "expected host names, domains or addresses separated by commas";
            return false;
        }
        joined += (joined.empty() ? "" : ",") + std::string(w);
    }
    out = std::move(joined);
    return true;
}

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

} // namespace exo::conf
