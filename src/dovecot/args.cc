// args.cc: parsing of the passdb exoauth's args and the token pre-checks
// (args.hh).
#include "args.hh"

#include "protocol.hh"

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace exo::dovecot {

namespace {

// A decimal number in [lo, hi]; with a unit table, "Ns" means N*1000 and
// "Nms" or a bare N mean N (milliseconds).
bool parse_number(const std::string &v, unsigned long lo, unsigned long hi, unsigned long &out, bool time)
{
    if (v.empty() || v.size() > 12 || v[0] < '0' || v[0] > '9')
        return false;
    char *end = nullptr;
    unsigned long n = strtoul(v.c_str(), &end, 10);
    std::string suffix(end);
    if (time && suffix == "s")
        n *= 1000;
    else if (!(suffix.empty() || (time && suffix == "ms")))
        return false;
    if (n < lo || n > hi)
        return false;
    out = n;
    return true;
}

// Letters, digits, '.', '-', ':' (an IPv6 address), 1 to 253 bytes.
bool host_ok(const std::string &h)
{
    if (h.empty() || h.size() > 253)
        return false;
    for (char c : h)
        if (!isalnum((unsigned char)c) && c != '.' && c != '-' && c != ':')
            return false;
    return true;
}

} // namespace

bool parse_args(const std::string &args, PluginArgs &out, std::string &error)
{
    PluginArgs a = out;
    std::istringstream in(args);
    std::string word;
    while (in >> word) {
        size_t eq = word.find('=');
        if (eq == std::string::npos || eq == 0) {
            error = "args: expected key=value, got \"" + proto::sanitize(word, 64) + "\"";
            return false;
        }
        std::string key = word.substr(0, eq), value = word.substr(eq + 1);
        unsigned long n = 0;
        if (key == "socket") {
            if (value.empty() || value[0] != '/' || value.size() > 107) {
                error = "args: socket must be an absolute path of at most 107 bytes";
                return false;
            }
            a.socket = value;
        } else if (key == "timeout") {
            if (!parse_number(value, 100, 60000, n, true)) {
                error = "args: timeout must be 100ms to 60s (e.g. timeout=5s or timeout=2500ms)";
                return false;
            }
            a.timeout_ms = (unsigned)n;
        } else if (key == "max_token") {
            if (!parse_number(value, 64, proto::MAX_LINE - 1024, n, false)) {
                error = "args: max_token must be 64 to " + std::to_string(proto::MAX_LINE - 1024) + " bytes";
                return false;
            }
            a.max_token = n;
        } else if (key == "cache_ttl") {
            if (!parse_number(value, 0, 3600, n, false)) {
                error = "args: cache_ttl must be 0 to 3600 seconds";
                return false;
            }
            a.cache_ttl = (unsigned)n;
        } else if (key == "mode") {
            if (value != "validate" && value != "proxy") {
                error = "args: mode must be validate or proxy";
                return false;
            }
            a.proxy = value == "proxy";
        } else if (key == "proxy_host") {
            if (!host_ok(value)) {
                error = "args: proxy_host must be a host name or address";
                return false;
            }
            a.proxy_host = value;
        } else if (key == "imap_port" || key == "pop3_port") {
            if (!parse_number(value, 1, 65535, n, false)) {
                error = "args: " + key + " must be 1 to 65535";
                return false;
            }
            (key == "imap_port" ? a.imap_port : a.pop3_port) = (unsigned)n;
        } else if (key == "proxy_ssl") {
            if (value != "yes" && value != "starttls") {
                error = "args: proxy_ssl must be yes or starttls (TLS to Exchange is not optional)";
                return false;
            }
            a.proxy_ssl = value;
        } else {
            error = "args: unknown key \"" + proto::sanitize(key, 64) +
                    "\" (known: socket, timeout, max_token, cache_ttl, mode, proxy_host, imap_port, pop3_port, proxy_ssl)";
            return false;
        }
    }
    out = a;
    return true;
}

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
