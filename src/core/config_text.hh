// config_text.hh: internal to the exoauthd.conf parser (config.cc,
// config_keys.cc, config_text.cc); nothing outside src/core/config*.cc
// includes it. Text helpers and one checker a kind of value (trim and the
// socket-path rule are plugconf.hh's, shared with the plugins): each returns
// false with a reason in "why" and leaves its output alone on failure.
#pragma once

#include "config.hh"
#include "plugconf.hh"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace exo::conf {

constexpr size_t kMaxFile = 1024 * 1024;   // whole file, bytes
constexpr size_t kMaxLine = 4096;          // one line without its newline

// A word of the file and the value it stands for (cloud = china).
template <typename T> struct Choice {
    const char *name;
    T value;
};

// ---- text helpers (config_text.cc) --------------------------------------

// True when s holds a control byte (tab included).
bool has_control(std::string_view s);
// True when s is well-formed UTF-8.
bool valid_utf8(std::string_view s);
// s in double quotes for a message: control bytes shown as '?', long text cut.
std::string quote(std::string_view s);
// True for ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

// ---- value checks (config_text.cc) --------------------------------------

// True for a [listen]/[account]/[peer] name: [A-Za-z0-9._@-]{1,64}.
bool valid_section_name(std::string_view s);
// True for the GUID form 8-4-4-4-12 of hex digits.
bool valid_guid(std::string_view s);
// A whole number in [lo, hi].
bool parse_int(std::string_view v, int lo, int hi, int &out, std::string &why);
// A calendar date YYYY-MM-DD (years 2000 to 9999) as unix seconds at its
// start in UTC.
bool parse_date(std::string_view v, int64_t &out, std::string &why);
// An octal permission mode from 0 to 0777 (leading 0 optional).
bool parse_mode(std::string_view v, mode_t &out, std::string &why);
// An absolute path of at most max bytes.
bool parse_path(std::string_view v, size_t max, std::string &out, std::string &why);
// One user or group name or numeric id; empty is allowed (keep / stay).
bool parse_id(std::string_view v, std::string &out, std::string &why);
// A space separated list of names or numeric ids, possibly empty.
bool parse_id_list(std::string_view v, std::vector<std::string> &out, std::string &why);
// Words each of which is one of allowed (a null-ended list), possibly none.
bool parse_word_set(std::string_view v, const char *const *allowed, std::vector<std::string> &out,
                    std::string &why);
// Account names or "*", space separated (checked against [account]s at the end).
bool parse_account_list(std::string_view v, std::vector<std::string> &out, std::string &why);
// Scope tokens (RFC 6749 section 3.3), stored joined by single spaces.
bool parse_scope(std::string_view v, std::string &out, std::string &why);
// A tenant: a GUID or a DNS name, [A-Za-z0-9.-]{1,253}.
bool parse_tenant(std::string_view v, std::string &out, std::string &why);
// An application (client) id in GUID form.
bool parse_client_id(std::string_view v, std::string &out, std::string &why);
// An authority URL: https://host[/path] without a trailing slash, query or fragment.
bool parse_authority(std::string_view v, std::string &out, std::string &why);
// An HTTP proxy URL: http:// or https://, an optional user:password@,
// host and :port, at most a trailing "/".
bool parse_proxy(std::string_view v, std::string &out, std::string &why);
// Host names, domains or addresses separated by commas or blanks, stored
// joined by commas (libcurl's CURLOPT_NOPROXY form).
bool parse_no_proxy(std::string_view v, std::string &out, std::string &why);
// Space-separated printable words (audiences, issuers, scopes, roles).
bool parse_words(std::string_view v, std::vector<std::string> &out, std::string &why);

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

// Stores the string choice named v (log, assertion_alg, mode, user_claim).
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

} // namespace exo::conf
