// fuzz_plugconf.cc: libFuzzer target for the plugins' configuration parsers:
// the Dovecot passdb's args line (2.3), one of its exoauth_KEY settings
// (2.4, "key=value" split at the first '=') and the SASL plugin's smtp.conf
// lines (the first byte picks one). Refused input must leave the defaults untouched;
// accepted values must stay in their documented ranges, and a socket path
// keeps the one rule (at most 107 bytes, no ".." component).
// fuzz-sources: src/dovecot/args.cc src/sasl/settings.cc src/plug/plugconf.cc src/plug/protocol.cc src/plug/secret.cc src/plug/crypto.cc src/plug/base64.cc
#include "args.hh"
#include "settings.hh"

#include <cstdint>
#include <cstdlib>
#include <string>

// True when path is longer than a socket path may be or has a ".." component.
static bool bad_socket(const std::string &path)
{
    std::string wrapped = "/" + path + "/";
    return path.empty() || path.size() > 107 || wrapped.find("/../") != std::string::npos;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    std::string in((const char *)data + 1, size - 1), error;
    if (data[0] & 2) {
        exo::dovecot::PluginArgs a;
        size_t eq = in.find('=');
        std::string key = in.substr(0, eq), value = eq == std::string::npos ? "" : in.substr(eq + 1);
        bool ok = exo::dovecot::apply_setting(key, value, a, error);
        if (a.timeout_ms < 100 || a.timeout_ms > 60000 || bad_socket(a.socket) || a.socket[0] != '/')
            abort();
        if (!ok && (a.timeout_ms != 5000 || a.socket != "/run/exoauth/exoauthd.sock" || error.empty()))
            abort();
    } else if (data[0] & 1) {
        exo::dovecot::PluginArgs a;
        bool ok = exo::dovecot::parse_args(in, a, error);
        if (a.timeout_ms < 100 || a.timeout_ms > 60000 || bad_socket(a.socket) || a.socket[0] != '/')
            abort();
        if (!ok && (a.timeout_ms != 5000 || a.socket != "/run/exoauth/exoauthd.sock"))
            abort();
        exo::dovecot::token_problem(in, a.max_token);
    } else {
        exo::saslplug::Settings s;
        bool ok = exo::saslplug::parse_settings(in, s, error);
        if (s.timeout_ms < 1000 || s.timeout_ms > 30000 || bad_socket(s.socket))
            abort();
        if (!ok && (s.timeout_ms != 5000 || s.socket != "exoauth/exoauthd.sock"))
            abort();
    }
    return 0;
}
