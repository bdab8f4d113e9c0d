// plugin.cc: the Cyrus SASL client plugin (libexoauth.so) offering XOAUTH2
// and OAUTHBEARER to Postfix's smtp. The authentication name Postfix takes
// from smtp_sasl_password_maps is the mailbox; the password field names the
// exoauthd account whose token authenticates it. The plugin asks exoauthd
// for the token (bounded by exoauth_timeout), sends it, and on the server's
// error challenge tells exoauthd to drop the token and fails, so Postfix
// defers (4.7.0) and the next attempt gets a fresh one. Every failure here
// is a temporary one for Postfix; no token is ever logged.
#include "settings.hh"

#include "client.hh"
#include "protocol.hh"
#include "saslmsg.hh"
#include "secret.hh"

extern "C" {
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
}

#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

using namespace exo;

namespace {

saslplug::Settings g_settings;

// Per-exchange state.
struct Exchange {
    bool oauthbearer = false;
    int step = 0;
    std::string mailbox;
    std::string account;
    std::string hash;    // of the token sent, for INVALIDATE and the log
    std::string out;     // what clientout points at; wiped on dispose
};

// Read smtp.conf from the first directory of the Cyrus config path that has
// one. No file means defaults.
int load_settings(const sasl_utils_t *utils)
{
    sasl_getconfpath_t *getconfpath = nullptr;
    void *ctx = nullptr;
    char *path = nullptr;
    if (utils->getcallback(nullptr, SASL_CB_GETCONFPATH, (sasl_callback_ft *)&getconfpath, &ctx) != SASL_OK ||
        !getconfpath || getconfpath(ctx, &path) != SASL_OK || !path)
        return SASL_OK;
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        std::string file = dir + "/smtp.conf";
        std::ifstream in(file);
        if (!in)
            continue;
        std::stringstream text;
        text << in.rdbuf();
        std::string error;
        if (!saslplug::parse_settings(text.str(), g_settings, error)) {
            utils->log(nullptr, SASL_LOG_ERR, "exoauth: %s: %s", file.c_str(), error.c_str());
            return SASL_BADPARAM;
        }
        break;
    }
    return SASL_OK;
}

// The authentication name and password Postfix supplies through callbacks.
bool credentials(sasl_client_params_t *params, std::string &mailbox, std::string &account)
{
    const sasl_utils_t *u = params->utils;
    sasl_getsimple_t *getsimple = nullptr;
    sasl_getsecret_t *getsecret = nullptr;
    void *ctx = nullptr;
    const char *name = nullptr;
    unsigned len = 0;
    if (u->getcallback(u->conn, SASL_CB_AUTHNAME, (sasl_callback_ft *)&getsimple, &ctx) != SASL_OK ||
        !getsimple || getsimple(ctx, SASL_CB_AUTHNAME, &name, &len) != SASL_OK || !name || !*name)
        return false;
    mailbox.assign(name, len ? len : strlen(name));
    sasl_secret_t *secret = nullptr;
    if (u->getcallback(u->conn, SASL_CB_PASS, (sasl_callback_ft *)&getsecret, &ctx) != SASL_OK ||
        !getsecret || getsecret(u->conn, ctx, SASL_CB_PASS, &secret) != SASL_OK || !secret)
        return false;
    account.assign((const char *)secret->data, secret->len);
    return true;
}

// Report a failure to Postfix (sasl_errdetail) and to its log.
int fail(const sasl_utils_t *u, int code, const std::string &why)
{
    u->seterror(u->conn, 0, "exoauth: %s", why.c_str());
    u->log(u->conn, SASL_LOG_WARN, "exoauth: %s", why.c_str());
    return code;
}

// Ask exoauthd for the account's token: SASL_OK, SASL_NOAUTHZ when
// mailbox_map does not let the account act as the mailbox (Postfix then
// says "authorization failure"), or SASL_TRYAGAIN. Postfix defers on all.
int fetch_token(Exchange &x, std::string &token, std::string &why)
{
    Client c;
    proto::Response r;
    proto::Request req{"1", "TOKEN", {{"account", x.account}, {"mailbox", x.mailbox}}};
    if (!c.connect(g_settings.socket, g_settings.timeout_ms, why) ||
        !c.call(req, r, g_settings.timeout_ms, why)) {
        why = "exoauthd unavailable (" + why + "); mail waits in the queue";
        return SASL_TRYAGAIN;
    }
    if (r.status != "OK" || !r.get("token") || !r.get("hash")) {
        const std::string *code = r.get("code"), *reason = r.get("reason");
        why = "no token for account " + x.account + " (mailbox " + x.mailbox + "): " +
              (code ? *code : r.status) + (reason ? ": " + *reason : std::string());
        return code && *code == "not_mapped" ? SASL_NOAUTHZ : SASL_TRYAGAIN;
    }
    token = *r.get("token");
    x.hash = *r.get("hash");
    proto::wipe_value(r.fields, "token");
    return SASL_OK;
}

// Tell exoauthd the server refused the token with this hash.
void invalidate(const sasl_utils_t *u, const Exchange &x)
{
    Client c;
    proto::Response r;
    std::string why;
    proto::Request req{"1", "INVALIDATE", {{"account", x.account}, {"hash", x.hash}}};
    if (!c.connect(g_settings.socket, g_settings.timeout_ms, why) || !c.call(req, r, g_settings.timeout_ms, why))
        u->log(u->conn, SASL_LOG_WARN, "exoauth: could not report token %s as refused: %s", x.hash.c_str(),
               why.c_str());
}

// Step 0: get the token and build the initial response.
int first_step(Exchange &x, sasl_client_params_t *params, const char **clientout, unsigned *clientoutlen,
               sasl_out_params_t *oparams)
{
    const sasl_utils_t *u = params->utils;
    if (!credentials(params, x.mailbox, x.account))
        return fail(u, SASL_BADPARAM, "no mailbox and account from smtp_sasl_password_maps");
    if (x.account.empty() || !proto::value_ok(x.account) || !proto::value_ok(x.mailbox))
        return fail(u, SASL_BADPARAM,
                    "mailbox " + proto::sanitize(x.mailbox, 128) +
                        " has no exoauthd account: put it in the password field of smtp_sasl_password_maps");
    std::string token, why;
    int got = fetch_token(x, token, why);
    if (got != SASL_OK)
        return fail(u, got, why);
    if (x.oauthbearer) {
        std::string host = params->serverFQDN ? params->serverFQDN : "";
        std::string port = sasl::port_of(params->ipremoteport ? params->ipremoteport : "");
        x.out = sasl::oauthbearer_initial(x.mailbox, host, port, token);
    } else {
        x.out = sasl::xoauth2_initial(x.mailbox, token);
    }
    wipe(token);
    int rc = params->canon_user(u->conn, x.mailbox.c_str(), (unsigned)x.mailbox.size(),
                                SASL_CU_AUTHID | SASL_CU_AUTHZID, oparams);
    if (rc != SASL_OK)
        return rc;
    *clientout = x.out.data();
    *clientoutlen = (unsigned)x.out.size();
    u->log(u->conn, SASL_LOG_DEBUG, "exoauth: sending token %s for %s", x.hash.c_str(), x.mailbox.c_str());
    return SASL_CONTINUE;
}

// Step 1: the server's error challenge. Drop the token, answer as RFC 7628
// asks, and let the server's final failure reply end the exchange.
int error_step(Exchange &x, sasl_client_params_t *params, const char *serverin, unsigned serverinlen,
               const char **clientout, unsigned *clientoutlen)
{
    const sasl_utils_t *u = params->utils;
    sasl::ServerError e;
    std::string why;
    std::string detail = sasl::parse_server_error(std::string(serverin ? serverin : "", serverinlen), e, why)
                             ? "status " + proto::sanitize(e.status, 64)
                             : "unparsable challenge (" + why + ")";
    u->log(u->conn, SASL_LOG_WARN, "exoauth: server refused token %s for %s: %s; token invalidated",
           x.hash.c_str(), x.mailbox.c_str(), detail.c_str());
    invalidate(u, x);
    wipe(x.out);
    x.out = sasl::error_reply(x.oauthbearer);
    *clientout = x.out.data();
    *clientoutlen = (unsigned)x.out.size();
    return SASL_CONTINUE;
}

int mech_new(void *glob, sasl_client_params_t *params, void **conn_context)
{
    auto *x = new (std::nothrow) Exchange();
    if (!x) {
        params->utils->seterror(params->utils->conn, 0, "exoauth: out of memory");
        return SASL_NOMEM;
    }
    x->oauthbearer = glob != nullptr;
    *conn_context = x;
    return SASL_OK;
}

int mech_step(void *conn_context, sasl_client_params_t *params, const char *serverin, unsigned serverinlen,
              sasl_interact_t **prompt_need, const char **clientout, unsigned *clientoutlen,
              sasl_out_params_t *oparams)
{
    if (!conn_context || !params || !clientout || !clientoutlen || !oparams)
        return SASL_BADPARAM;
    if (prompt_need)
        *prompt_need = nullptr;
    *clientout = nullptr;
    *clientoutlen = 0;
    auto &x = *static_cast<Exchange *>(conn_context);
    try {
        switch (x.step++) {
        case 0:
            return first_step(x, params, clientout, clientoutlen, oparams);
        case 1:
            return error_step(x, params, serverin, serverinlen, clientout, clientoutlen);
        default:
            return fail(params->utils, SASL_BADPROT, "server continued after the error reply");
        }
    } catch (...) {
        return fail(params->utils, SASL_NOMEM, "out of memory");
    }
}

void mech_dispose(void *conn_context, const sasl_utils_t *)
{
    auto *x = static_cast<Exchange *>(conn_context);
    if (!x)
        return;
    wipe(x->out);
    delete x;
}

const unsigned long required_prompts[] = {SASL_CB_AUTHNAME, SASL_CB_PASS, SASL_CB_LIST_END};

// glob_context tells the two mechanisms apart: null for XOAUTH2.
int oauthbearer_tag;

sasl_client_plug_t plugins[] = {
    {"XOAUTH2", 0, SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT,
     SASL_FEAT_WANT_CLIENT_FIRST, required_prompts, nullptr, mech_new, mech_step,
     mech_dispose, nullptr, nullptr, nullptr, nullptr},
    {"OAUTHBEARER", 0, SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT,
     SASL_FEAT_WANT_CLIENT_FIRST, required_prompts, &oauthbearer_tag, mech_new,
     mech_step, mech_dispose, nullptr, nullptr, nullptr, nullptr},
};

} // namespace

extern "C" int sasl_client_plug_init(const sasl_utils_t *utils, int max_version, int *out_version,
                                     sasl_client_plug_t **pluglist, int *plugcount);

extern "C" int sasl_client_plug_init(const sasl_utils_t *utils, int max_version, int *out_version,
                                     sasl_client_plug_t **pluglist, int *plugcount)
{
    if (max_version < SASL_CLIENT_PLUG_VERSION) {
        utils->seterror(nullptr, 0, "exoauth: SASL client plugin version mismatch");
        return SASL_BADVERS;
    }
    int rc;
    try {
        rc = load_settings(utils);
    } catch (...) {
        rc = SASL_NOMEM;
    }
    if (rc != SASL_OK)
        return rc;
    *out_version = SASL_CLIENT_PLUG_VERSION;
    *pluglist = plugins;
    *plugcount = 2;
    return SASL_OK;
}
