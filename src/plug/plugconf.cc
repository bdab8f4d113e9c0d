// plugconf.cc: the pieces every settings parser shares (plugconf.hh): trim,
// the socket-path rule, and the plugins' key-table helpers. Called by the
// SASL plugin (smtp.conf), the Dovecot passdb (args) and the exoauthd.conf
// parser; pure functions, no allocation beyond the messages.
#include "plugconf.hh"

#include "protocol.hh"

namespace exo {

namespace {

// True for the blanks that separate things inside a line.
bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

// True when one of the '/'-separated components of path is "..".
bool has_dotdot(std::string_view path)
{
    while (!path.empty()) {
        size_t slash = path.find('/');
        if (path.substr(0, slash) == "..")
            return true;
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    }
    return false;
}

} // namespace

// s without leading and trailing blanks.
std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back()))
        s.remove_suffix(1);
    return s;
}

// Checks path against the one socket-path rule, part by part.
bool socket_path_ok(std::string_view path, SocketBase base, std::string &why)
{
    if (base == SocketBase::None && (path.empty() || path.front() != '/'))
        why = "expected an absolute path";
    else if (path.empty())
        why = "expected a path";
    else if (path.size() > kMaxSocketPath)
        why = "longer than " + std::to_string(kMaxSocketPath) + " bytes";
    else if (!proto::value_ok(path))
        why = "control character in the path";
    else if (has_dotdot(path))
        why = "\"..\" is not allowed as a path component";
    else
        return true;
    return false;
}

// Stores a path that keeps the rule.
bool store_socket_path(std::string_view path, SocketBase base, std::string &out, std::string &why)
{
    if (!socket_path_ok(path, base, why))
        return false;
    out.assign(path);
    return true;
}

namespace plugconf {

// Reads 1 to max_digits digits; false for anything else or a value off [lo, hi].
bool number_in(std::string_view v, size_t max_digits, unsigned long lo, unsigned long hi,
               unsigned long &out)
{
    if (v.empty() || v.size() > max_digits)
        return false;
    unsigned long long n = 0;
    for (char c : v) {
        if (c < '0' || c > '9')
            return false;
        n = n * 10 + static_cast<unsigned long long>(c - '0');
    }
    if (n < lo || n > hi)
        return false;
    out = static_cast<unsigned long>(n);
    return true;
}

// The message for a key no table row names.
std::string unknown_key(std::string_view key, const std::string &names)
{
    return "unknown key \"" + proto::sanitize(key, 64) + "\" (known: " + names + ")";
}

} // namespace plugconf
} // namespace exo
