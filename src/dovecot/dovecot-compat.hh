// dovecot-compat.hh: every difference between Dovecot 2.3 and 2.4 that the
// passdb exoauth sees, in one place, picked by EXO_DOVECOT_API (23 or 24,
// set by configure from Dovecot's config.h). 2.3 hands a passdb its args
// line; 2.4 hands it an event to read settings through (settings-exoauth.h),
// calls the request's protocol "protocol" instead of "service", and checks
// XOAUTH2/OAUTHBEARER tokens inside its own mechanisms, so on 2.4 exoauth
// puts its own mechanisms in their place (mech-exoauth.hh).
// Included by passdb-exoauth.cc only, after Dovecot's headers.
#pragma once

#include "args.hh"

#include <new>
#include <string>

#if EXO_DOVECOT_API >= 24
#include "mech-exoauth.hh"
extern "C" {
#include "settings-exoauth.h"
}
#elif EXO_DOVECOT_API != 23
#error "EXO_DOVECOT_API must be 23 or 24 (configure sets it)"
#endif

// What starts the passdb's log lines on both versions. Dovecot puts the
// passdb's name before them too (2.4: the passdb block's name, which the
// admin chooses, e.g. "exoauth-proxy: "), so the lines keep their own
// "exoauth: " that tests and docs grep for.
#define EXO_PASSDB_LOG "exoauth: "

namespace exo::dovecot::compat {

// Makes the passdb module from checked settings; nullptr with error.
using MakeModule = struct passdb_module *(*)(pool_t pool, const PluginArgs &args, std::string &error);

// The protocol the client is logging in with (imap, pop3, submission, ...).
inline const char *protocol(const struct auth_request *request)
{
#if EXO_DOVECOT_API >= 24
    const char *p = request->fields.protocol;
#else
    const char *p = request->fields.service;
#endif
    return p ? p : "";
}

#if EXO_DOVECOT_API >= 24

// The exoauth_KEY settings of one passdb, as args.cc's keys.
inline bool settings_to_args(const struct exoauth_settings &s, PluginArgs &out, std::string &error)
{
    const std::pair<const char *, const char *> kv[] = {
        {"socket", s.socket},         {"timeout", s.timeout},       {"max_token", s.max_token},
        {"cache_ttl", s.cache_ttl},   {"mode", s.mode},             {"proxy_host", s.proxy_host},
        {"imap_port", s.imap_port},   {"pop3_port", s.pop3_port},   {"proxy_ssl", s.proxy_ssl},
        {"pop3_bridge", s.pop3_bridge},
    };
    for (const auto &p : kv)
        if (p.second && *p.second && !apply_setting(p.first, p.second, out, error)) {
            error = std::string("exoauth_") + error;
            return false;
        }
    return true;
}

// Dovecot 2.4's preinit: read the passdb's settings, then make the module.
template <MakeModule make>
int preinit(pool_t pool, struct event *event, struct passdb_module **module_r, const char **error_r)
{
    const struct exoauth_settings *set = nullptr;
    if (exoauth_settings_read(event, &set, error_r) < 0)
        return -1;
    std::string error;
    *module_r = nullptr;
    try {
        PluginArgs a;
        if (settings_to_args(*set, a, error))
            *module_r = make(pool, a, error);
    } catch (...) {
        error = "out of memory";
    }
    exoauth_settings_release(&set);
    if (*module_r)
        return 0;
    *error_r = t_strdup(error.c_str());
    return -1;
}

// After the passdbs are made: a validating passdb brings its mechanisms.
inline void passdb_ready(const PluginArgs &args)
{
    if (!args.proxy)
        install_mechanisms();
}

#else

// Dovecot 2.3's preinit: parse the args line, then make the module.
template <MakeModule make>
struct passdb_module *preinit(pool_t pool, const char *args)
{
    std::string error;
    struct passdb_module *module = nullptr;
    try {
        PluginArgs a;
        if (parse_args(args ? args : "", a, error))
            module = make(pool, a, error);
    } catch (...) {
        error = "out of memory";
    }
    if (!module)
        i_fatal("passdb exoauth: %s", error.c_str());
    return module;
}

// Dovecot 2.3's own mechanisms hand the token to the passdb already.
inline void passdb_ready(const PluginArgs &) {}

#endif

} // namespace exo::dovecot::compat
