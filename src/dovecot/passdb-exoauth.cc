// passdb-exoauth.cc: the Dovecot passdb driver "exoauth". The xoauth2 and
// oauthbearer mechanisms (Dovecot 2.3's own, exoauth's on 2.4) hand it the
// client's bearer token as the password; it asks exoauthd (VALIDATE, on Dovecot's ioloop, never blocking)
// and logs the client in as the token's user, refuses with the reason in the
// log (Dovecot sends the RFC 7628 JSON), or fails temporarily when exoauthd
// cannot answer. With mode=proxy it runs after the site's own passdb has
// checked a local password, and hands Dovecot's login proxy the Exchange
// mailbox and an app-only token (TOKEN user=...) for proxy_mech=xoauth2.
// Configuration: passdb { driver = exoauth  args = ... } (2.3) or
// exoauth_KEY settings in the passdb block (2.4), exoauth-plugins(5).
// Version differences live in dovecot-compat.hh.
#include "args.hh"
#include "link.hh"
#include "verdicts.hh"

#include "secret.hh"

extern "C" {
#include "auth-common.h"
#include "passdb.h"
}
#include "dovecot-compat.hh"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <string>

using exo::dovecot::Link;
using exo::dovecot::Outcome;
using exo::dovecot::PluginArgs;
using exo::dovecot::Verdicts;

namespace {

struct ExoauthPassdb {
    struct passdb_module module;  // first: Dovecot casts between the two
    PluginArgs *args;
};

// One link per auth process, made on first use.
std::unique_ptr<Link> g_link;

Link &link_for(const PluginArgs &a)
{
    if (!g_link)
        g_link = std::make_unique<Link>(a.socket, a.timeout_ms);
    return *g_link;
}

// Recent acceptances, one cache per auth process (verdicts.hh).
std::unique_ptr<Verdicts> g_verdicts;
constexpr size_t kMaxVerdicts = 4096;

Verdicts &verdicts_for(const PluginArgs &a)
{
    if (!g_verdicts)
        g_verdicts = std::make_unique<Verdicts>(kMaxVerdicts, (time_t)a.cache_ttl);
    return *g_verdicts;
}

// Keep exoauthd's acceptance for the next connection with the same token.
void remember(const PluginArgs &a, const std::string &key, const Outcome &o)
{
    const std::string *user = o.resp.get("user"), *expires = o.resp.get("expires");
    if (key.empty() || !user || !expires)
        return;
    verdicts_for(a).put(key, *user, (time_t)strtoll(expires->c_str(), nullptr, 10), time(nullptr));
}

// Turn exoauthd's verdict into a passdb result, logging why.
passdb_result verdict(struct auth_request *request, const Outcome &o)
{
    struct event *ev = authdb_event(request);
    if (!o.answered) {
        e_error(ev, EXO_PASSDB_LOG "temporary failure: %s", o.error.c_str());
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    const exo::proto::Response &r = o.resp;
    const std::string *hash = r.get("hash");
    const char *h = hash ? hash->c_str() : "-";
    if (r.status == "OK") {
        const std::string *user = r.get("user");
        if (!user || user->empty()) {
            e_error(ev, EXO_PASSDB_LOG "exoauthd accepted token %s without a user", h);
            return PASSDB_RESULT_INTERNAL_FAILURE;
        }
        auth_request_set_field(request, "user", user->c_str(), nullptr);
        e_debug(ev, EXO_PASSDB_LOG "token %s accepted for %s", h, user->c_str());
        return PASSDB_RESULT_OK;
    }
    const std::string *kind = r.get("kind");
    const std::string *reason = r.get("reason");
    const char *why = reason ? reason->c_str() : (r.status == "ERROR" ? "protocol error" : "no reason");
    if (r.status == "FAIL" && kind && *kind == "perm" && r.get("code") && *r.get("code") == "invalid_token") {
        e_info(ev, EXO_PASSDB_LOG "token %s refused: %s", h, why);
        return PASSDB_RESULT_PASSWORD_MISMATCH;
    }
    e_error(ev, EXO_PASSDB_LOG "token %s not checked (%s): %s", h, r.status.c_str(), why);
    return PASSDB_RESULT_INTERNAL_FAILURE;
}

// Where Dovecot's login proxy connects: exoauth-pop3-bridge in plain text
// on loopback when bridge_port is set, else proxy_host:port with TLS.
// Dovecot's login proxy takes implicit TLS from the field "ssl" and
// STARTTLS from the field "starttls" (login-common/client-common-auth.c);
// any value of "ssl" but any-cert means implicit TLS, so ssl=starttls
// would start a TLS handshake on Exchange's plain port.
void set_destination(struct auth_request *request, const PluginArgs &a, unsigned bridge_port, unsigned port)
{
    if (bridge_port != 0) {
        auth_request_set_field(request, "host", a.pop3_bridge_host.c_str(), nullptr);
        auth_request_set_field(request, "port", std::to_string(bridge_port).c_str(), nullptr);
        return;
    }
    auth_request_set_field(request, "host", a.proxy_host.c_str(), nullptr);
    auth_request_set_field(request, "port", std::to_string(port).c_str(), nullptr);
    if (a.proxy_ssl == "starttls")
        auth_request_set_field(request, "starttls", "yes", nullptr);
    else
        auth_request_set_field(request, "ssl", "yes", nullptr);
}

// mode=proxy: exoauthd's answer to TOKEN user=... becomes Dovecot's proxy
// fields, or a refusal (no mailbox for this user) or a temporary failure.
passdb_result proxy_verdict(struct auth_request *request, const PluginArgs &a, const Outcome &o)
{
    struct event *ev = authdb_event(request);
    if (!o.answered) {
        e_error(ev, EXO_PASSDB_LOG "temporary failure: %s", o.error.c_str());
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    const exo::proto::Response &r = o.resp;
    const std::string *token = r.get("token"), *mailbox = r.get("mailbox"), *hash = r.get("hash");
    const std::string *code = r.get("code"), *reason = r.get("reason");
    const char *why = reason ? reason->c_str() : "no reason";
    if (r.status == "FAIL" && code && *code == "not_mapped") {
        e_info(ev, EXO_PASSDB_LOG "no Exchange mailbox for this user: %s", why);
        return PASSDB_RESULT_USER_UNKNOWN;
    }
    if (r.status != "OK" || !token || !mailbox || !hash) {
        e_error(ev, EXO_PASSDB_LOG "no token for the proxy (%s %s): %s", r.status.c_str(), code ? code->c_str() : "-", why);
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    const char *service = exo::dovecot::compat::protocol(request);
    unsigned port = strcmp(service, "imap") == 0 ? a.imap_port : strcmp(service, "pop3") == 0 ? a.pop3_port : 0;
    if (port == 0) {
        e_error(ev, EXO_PASSDB_LOG "mode=proxy serves imap and pop3, not %s", service);
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    auth_request_set_field(request, "proxy", "y", nullptr);
    set_destination(request, a, strcmp(service, "pop3") == 0 ? a.pop3_bridge_port : 0, port);
    auth_request_set_field(request, "proxy_mech", "xoauth2", nullptr);
    auth_request_set_field(request, "destuser", mailbox->c_str(), nullptr);
    auth_request_set_field(request, "pass", token->c_str(), nullptr);
    e_debug(ev, EXO_PASSDB_LOG "proxying to %s as %s with token %s",
            strcmp(service, "pop3") == 0 && a.pop3_bridge_port ? "exoauth-pop3-bridge" : a.proxy_host.c_str(),
            mailbox->c_str(),
            hash->c_str());
    return PASSDB_RESULT_OK;
}

// Ask exoauthd, then hand the verdict to Dovecot exactly once.
void ask(struct auth_request *request, verify_plain_callback_t *callback, const PluginArgs &a,
         const std::string &command, exo::proto::Fields &fields, std::string cache_key = "")
{
    auth_request_ref(request);
    const PluginArgs *args = &a;
    try {
        link_for(a).call(command, fields, [request, callback, args, cache_key](const Outcome &o) mutable {
            passdb_result result = PASSDB_RESULT_INTERNAL_FAILURE;
            try {
                result = args->proxy ? proxy_verdict(request, *args, o) : verdict(request, o);
                if (result == PASSDB_RESULT_OK && !args->proxy)
                    remember(*args, cache_key, o);
            } catch (...) {
                e_error(authdb_event(request), EXO_PASSDB_LOG "out of memory");
            }
            callback(result, request);
            auth_request_unref(&request);
        });
    } catch (...) {
        e_error(authdb_event(request), EXO_PASSDB_LOG "out of memory");
        callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
        auth_request_unref(&request);
    }
    for (auto &f : fields)
        exo::wipe(f.second);
}

void exoauth_verify_plain(struct auth_request *request, const char *password,
                          verify_plain_callback_t *callback)
{
    auto *mod = reinterpret_cast<ExoauthPassdb *>(request->passdb->passdb);
    const PluginArgs &a = *mod->args;
    const char *login = request->fields.user ? request->fields.user : "";
    if (a.proxy) {
        // The local password was checked by the passdb before this one.
        exo::proto::Fields f = {{"user", login}};
        ask(request, callback, a, "TOKEN", f);
        return;
    }
    std::string token = password;
    std::string problem = exo::dovecot::token_problem(token, a.max_token);
    if (!problem.empty()) {
        e_info(authdb_event(request), EXO_PASSDB_LOG "token %s refused: %s", exo::short_hash(token).c_str(),
               problem.c_str());
        exo::wipe(token);
        callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
        return;
    }
    std::string key = a.cache_ttl ? Verdicts::key(login, token) : std::string();
    if (const std::string *user = key.empty() ? nullptr : verdicts_for(a).find(key, time(nullptr))) {
        exo::wipe(token);
        auth_request_set_field(request, "user", user->c_str(), nullptr);
        e_debug(authdb_event(request), EXO_PASSDB_LOG "token accepted for %s (cached)", user->c_str());
        callback(PASSDB_RESULT_OK, request);
        return;
    }
    exo::proto::Fields f = {{"token", token}, {"login", login}};
    exo::wipe(token);
    ask(request, callback, a, "VALIDATE", f, key);
}

// The module for checked settings (compat::preinit reads them).
struct passdb_module *exoauth_make(pool_t pool, const PluginArgs &args, std::string &error)
{
    auto *mod = p_new(pool, ExoauthPassdb, 1);
    mod->args = new (std::nothrow) PluginArgs(args);
    if (!mod->args) {
        error = "out of memory";
        return nullptr;
    }
    // exoauthd caches verdicts by token hash itself; Dovecot's cache would
    // keep a refusal or acceptance past what the token allows.
    mod->module.default_cache_key = nullptr;
    mod->module.default_pass_scheme = "PLAIN";
    return &mod->module;
}

void exoauth_init(struct passdb_module *module)
{
    exo::dovecot::compat::passdb_ready(*reinterpret_cast<ExoauthPassdb *>(module)->args);
}

void exoauth_deinit(struct passdb_module *module)
{
    auto *mod = reinterpret_cast<ExoauthPassdb *>(module);
    if (g_link)
        g_link->shutdown("auth process stopping");
    g_verdicts.reset();
    delete mod->args;
    mod->args = nullptr;
}

struct passdb_module_interface passdb_exoauth = {
    "exoauth",
    exo::dovecot::compat::preinit<exoauth_make>,
    exoauth_init,
    exoauth_deinit,
    exoauth_verify_plain,
    nullptr,
    nullptr,
};

} // namespace

extern "C" {

// Dovecot refuses to load a module built for another ABI.
// (module-dir.c reads it as a const char *).
extern const char *authdb_exoauth_version;
const char *authdb_exoauth_version = DOVECOT_ABI_VERSION;

void authdb_exoauth_init(struct module *module);
void authdb_exoauth_deinit(void);

void authdb_exoauth_init(struct module *)
{
    passdb_register_module(&passdb_exoauth);
}

void authdb_exoauth_deinit(void)
{
    passdb_unregister_module(&passdb_exoauth);
    g_link.reset();
}

} // extern "C"
