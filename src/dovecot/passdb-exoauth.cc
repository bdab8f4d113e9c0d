// passdb-exoauth.cc: the Dovecot passdb driver "exoauth". Dovecot's own
// xoauth2/oauthbearer mechanisms hand it the client's bearer token as the
// password; it asks exoauthd (VALIDATE, on Dovecot's ioloop, never blocking)
// and logs the client in as the token's user, refuses with the reason in the
// log (Dovecot sends the RFC 7628 JSON), or fails temporarily when exoauthd
// cannot answer. Configuration: passdb { driver = exoauth  args = ... }, see
// exoauth-plugins(5).
#include "args.hh"
#include "link.hh"

#include "secret.hh"

extern "C" {
#include "auth-common.h"
#include "passdb.h"
}

#include <memory>
#include <new>
#include <string>

using exo::dovecot::Link;
using exo::dovecot::Outcome;
using exo::dovecot::PluginArgs;

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

// Turn exoauthd's verdict into a passdb result, logging why.
passdb_result verdict(struct auth_request *request, const Outcome &o)
{
    struct event *ev = authdb_event(request);
    if (!o.answered) {
        e_error(ev, "exoauth: temporary failure: %s", o.error.c_str());
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    const exo::proto::Response &r = o.resp;
    const std::string *hash = r.get("hash");
    const char *h = hash ? hash->c_str() : "-";
    if (r.status == "OK") {
        const std::string *user = r.get("user");
        if (!user || user->empty()) {
            e_error(ev, "exoauth: exoauthd accepted token %s without a user", h);
            return PASSDB_RESULT_INTERNAL_FAILURE;
        }
        auth_request_set_field(request, "user", user->c_str(), nullptr);
        e_debug(ev, "exoauth: token %s accepted for %s", h, user->c_str());
        return PASSDB_RESULT_OK;
    }
    const std::string *kind = r.get("kind");
    const std::string *reason = r.get("reason");
    const char *why = reason ? reason->c_str() : (r.status == "ERROR" ? "protocol error" : "no reason");
    if (r.status == "FAIL" && kind && *kind == "perm" && r.get("code") && *r.get("code") == "invalid_token") {
        e_info(ev, "exoauth: token %s refused: %s", h, why);
        return PASSDB_RESULT_PASSWORD_MISMATCH;
    }
    e_error(ev, "exoauth: token %s not checked (%s): %s", h, r.status.c_str(), why);
    return PASSDB_RESULT_INTERNAL_FAILURE;
}

void exoauth_verify_plain(struct auth_request *request, const char *password,
                          verify_plain_callback_t *callback)
{
    auto *mod = reinterpret_cast<ExoauthPassdb *>(request->passdb->passdb);
    const PluginArgs &a = *mod->args;
    std::string token = password;
    std::string problem = exo::dovecot::token_problem(token, a.max_token);
    if (!problem.empty()) {
        e_info(authdb_event(request), "exoauth: token %s refused: %s", exo::short_hash(token).c_str(),
               problem.c_str());
        exo::wipe(token);
        callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
        return;
    }
    const char *login = request->fields.user ? request->fields.user : "";
    exo::proto::Fields f = {{"token", token}, {"login", login}};
    exo::wipe(token);
    auth_request_ref(request);
    try {
        link_for(a).call("VALIDATE", f, [request, callback](const Outcome &o) mutable {
            passdb_result result = PASSDB_RESULT_INTERNAL_FAILURE;
            try {
                result = verdict(request, o);
            } catch (...) {
                e_error(authdb_event(request), "exoauth: out of memory");
            }
            callback(result, request);
            auth_request_unref(&request);
        });
    } catch (...) {
        e_error(authdb_event(request), "exoauth: out of memory");
        callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
        auth_request_unref(&request);
    }
    exo::wipe(f[0].second);
}

struct passdb_module *exoauth_preinit(pool_t pool, const char *args)
{
    auto *mod = p_new(pool, ExoauthPassdb, 1);
    std::string error;
    PluginArgs *parsed = new (std::nothrow) PluginArgs();
    if (!parsed || !exo::dovecot::parse_args(args ? args : "", *parsed, error))
        i_fatal("passdb exoauth: %s", parsed ? error.c_str() : "out of memory");
    mod->args = parsed;
    // exoauthd caches verdicts by token hash itself; Dovecot's cache would
    // keep a refusal or acceptance past what the token allows.
    mod->module.default_cache_key = nullptr;
    mod->module.default_pass_scheme = "PLAIN";
    return &mod->module;
}

void exoauth_deinit(struct passdb_module *module)
{
    auto *mod = reinterpret_cast<ExoauthPassdb *>(module);
    if (g_link)
        g_link->shutdown("auth process stopping");
    delete mod->args;
    mod->args = nullptr;
}

struct passdb_module_interface passdb_exoauth = {
    "exoauth",
    exoauth_preinit,
    nullptr,
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
