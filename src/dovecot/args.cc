// args.cc: parsing of the passdb exoauth's args through the plugins' shared
// key table helpers (plugconf.hh), and the token pre-checks (args.hh).
#include "args.hh"

#include "plugconf.hh"
#include "protocol.hh"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace exo::dovecot {

namespace {

static_assert(proto::MAX_LINE - 1024 == 15360, "max_token's message names the bound");

// timeout: N or Nms (milliseconds) or Ns (seconds), 100 ms to 60 s.
bool set_timeout(PluginArgs &a, std::string_view v)
{
    size_t digits = std::min(v.find_first_not_of("0123456789"), v.size());
    std::string_view unit = v.substr(digits);
    unsigned long n = 0;
    if (v.size() > 12 || (unit != "" && unit != "s" && unit != "ms") ||
        !plugconf::number_in(v.substr(0, digits), 12, 0, 999999999999ul, n))
        return false;
    n *= unit == "s" ? 1000 : 1;
    if (n < 100 || n > 60000)
        return false;
    a.timeout_ms = static_cast<unsigned>(n);
    return true;
}

// A whole number in [lo, hi] (at most 12 digits) stored in field.
template <typename T, T PluginArgs::*field, unsigned long lo, unsigned long hi>
bool set_number(PluginArgs &a, std::string_view v)
{
    unsigned long n = 0;
    if (!plugconf::number_in(v, 12, lo, hi, n))
        return false;
    a.*field = static_cast<T>(n);
    return true;
}

// mode: validate (client tokens) or proxy (sessions sent on to Exchange).
bool set_mode(PluginArgs &a, std::string_view v)
{
    if (v != "validate" && v != "proxy")
        return false;
    a.proxy = v == "proxy";
    return true;
}

// proxy_host: letters, digits, '.', '-', ':' (an IPv6 address), 1 to 253 bytes.
bool set_proxy_host(PluginArgs &a, std::string_view v)
{
    if (v.empty() || v.size() > 253)
        return false;
    for (char c : v)
        if (!isalnum((unsigned char)c) && c != '.' && c != '-' && c != ':')
            return false;
    a.proxy_host.assign(v);
    return true;
}

// proxy_ssl: yes (implicit TLS) or starttls; never plain text.
bool set_proxy_ssl(PluginArgs &a, std::string_view v)
{
    if (v != "yes" && v != "starttls")
        return false;
    a.proxy_ssl.assign(v);
    return true;
}

const plugconf::Key<PluginArgs> kKeys[] = {
    {"socket", "an absolute path of at most 107 bytes without a \"..\" component",
     [](PluginArgs &a, std::string_view v) {
         std::string why;
         return store_socket_path(v, SocketBase::None, a.socket, why);
     }},
    {"timeout", "100ms to 60s (e.g. timeout=5s or timeout=2500ms)", set_timeout},
    {"max_token", "64 to 15360 bytes",
     set_number<size_t, &PluginArgs::max_token, 64, proto::MAX_LINE - 1024>},
    {"cache_ttl", "0 to 3600 seconds", set_number<unsigned, &PluginArgs::cache_ttl, 0, 3600>},
    {"mode", "validate or proxy", set_mode},
    {"proxy_host", "a host name or address", set_proxy_host},
    {"imap_port", "1 to 65535", set_number<unsigned, &PluginArgs::imap_port, 1, 65535>},
    {"pop3_port", "1 to 65535", set_number<unsigned, &PluginArgs::pop3_port, 1, 65535>},
    {"proxy_ssl", "yes or starttls (TLS to Exchange is not optional)", set_proxy_ssl},
};

} // namespace

// Parses the words of args through kKeys; out changes only when all are good.
bool parse_args(const std::string &args, PluginArgs &out, std::string &error)
{
    PluginArgs a = out;
    std::istringstream in(args);
    std::string word, why;
    while (in >> word) {
        size_t eq = word.find('=');
        if (eq == std::string::npos || eq == 0) {
            error = "args: expected key=value, got \"" + proto::sanitize(word, 64) + "\"";
            return false;
        }
        std::string_view w = word;
        if (!plugconf::apply(kKeys, w.substr(0, eq), w.substr(eq + 1), a, why)) {
            error = "args: " + why;
            return false;
        }
    }
    out = a;
    return true;
}

// One key through kKeys; out changes only when the value is good.
bool apply_setting(std::string_view key, std::string_view value, PluginArgs &out, std::string &error)
{
    PluginArgs a = out;
    std::string why;
    if (!plugconf::apply(kKeys, key, value, a, why)) {
        error = why;
        return false;
    }
    out = a;
    return true;
}

// Why token cannot be sent as it is, "" when it can.
std::string token_problem(const std::string &token, size_t max)
{
    if (token.empty())
        return "empty token";
    if (token.size() > max)
        return "token of " + std::to_string(token.size()) + " bytes is above max_token=" + std::to_string(max);
    if (!proto::value_ok(token) || token.find('\t') != std::string::npos)
        return "token holds control bytes";
    return "";
}

} // namespace exo::dovecot
