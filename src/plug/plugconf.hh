// plugconf.hh: what the settings parsers share. The plugins' small key-table
// parser (the SASL plugin's smtp.conf lines, the Dovecot passdb's args
// line), the one trim, and the one rule for exoauthd's socket path, which
// exoauthd.conf's [listen] path keeps too. Linked into the plugins
// (libexoplug) and into libexocore: no libcurl, nothing of the daemon's.
// Input is the host's configuration: trusted in intent, checked strictly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace exo {

// s without leading and trailing blanks (space, tab).
std::string_view trim(std::string_view s);

// sizeof(sockaddr_un.sun_path) - 1: the longest socket path.
constexpr size_t kMaxSocketPath = 107;

// Where a relative socket path starts, if it may be relative at all.
enum class SocketBase {
    None,     // nowhere: the path is absolute (exoauthd.conf, Dovecot)
    QueueDir, // Postfix's queue directory, where smtp runs, chrooted or not
};

// The one rule for a socket path: 1 to 107 bytes, no control byte, no ".."
// component, and absolute unless base anchors a relative one. False with
// the broken part of the rule in why.
bool socket_path_ok(std::string_view path, SocketBase base, std::string &why);
// Stores path in out when it keeps that rule; false with why, out unchanged.
bool store_socket_path(std::string_view path, SocketBase base, std::string &out, std::string &why);

namespace plugconf {

// One key of a plugin's settings; a refused value is reported as
// "NAME must be MUST".
template <typename S> struct Key {
    const char *name;
    const char *must;
    bool (*set)(S &s, std::string_view value);
};

// A run of 1 to max_digits (at most 19) decimal digits whose value is in
// [lo, hi].
bool number_in(std::string_view v, size_t max_digits, unsigned long lo, unsigned long hi,
               unsigned long &out);

// 'unknown key "KEY" (known: NAMES)'; the key is cut and made printable.
std::string unknown_key(std::string_view key, const std::string &names);

// Sets key to value in s through the table; false with why (a refused
// value or an unknown key). s is changed only by a setter that succeeds.
template <typename S, size_t N>
bool apply(const Key<S> (&keys)[N], std::string_view key, std::string_view value, S &s,
           std::string &why)
{
    std::string names;
    for (const Key<S> &k : keys) {
        if (key == k.name) {
            if (k.set(s, value))
                return true;
            why = std::string(k.name) + " must be " + k.must;
            return false;
        }
        names += (names.empty() ? "" : ", ") + std::string(k.name);
    }
    why = unknown_key(key, names);
    return false;
}

} // namespace plugconf
} // namespace exo
