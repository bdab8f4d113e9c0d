// mech-exoauth.cc: the XOAUTH2 (Google/Microsoft key=value^A form) and
// OAUTHBEARER (RFC 7628) server mechanisms exoauth brings to Dovecot 2.4's
// auth process (mech-exoauth.hh). The client's message is untrusted: it is
// parsed by saslmsg.cc (bounded, negative-tested, fuzzed), its user becomes
// the login name through Dovecot's username checks, and its token goes to
// auth_request_verify_plain, where the passdb exoauth asks exoauthd. A
// refusal answers with RFC 7628's JSON status (Dovecot then waits for the
// client's dummy response); exoauthd unreachable is a temporary failure.
#include "mech-exoauth.hh"

#include "saslmsg.hh"
#include "secret.hh"

extern "C" {
#include "auth-common.h"
#include "auth.h"
#include "auth-request.h"
#include "mech.h"
#include "passdb.h"
}

#include <cstring>
#include <string>
#include <string_view>

namespace exo::dovecot {

namespace {

bool is_oauthbearer(const struct auth_request *request)
{
    return strcmp(request->mech->mech_name, "OAUTHBEARER") == 0;
}

// The failure's JSON (fixed text, no client data): XOAUTH2 uses an HTTP-like
// status and names the scheme; OAUTHBEARER uses RFC 7628's error codes.
// Called from Dovecot's callbacks too, so it allocates nothing.
void fail_with_status(struct auth_request *request, bool invalid_request)
{
    static const char kBearerToken[] = "{\"status\":\"invalid_token\",\"scope\":\"mail\"}";
    static const char kBearerRequest[] = "{\"status\":\"invalid_request\",\"scope\":\"mail\"}";
    static const char kXoauth2Token[] = "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}";
    static const char kXoauth2Request[] = "{\"status\":\"400\",\"schemes\":\"bearer\",\"scope\":\"mail\"}";
    const char *json = is_oauthbearer(request) ? (invalid_request ? kBearerRequest : kBearerToken)
                                               : (invalid_request ? kXoauth2Request : kXoauth2Token);
    auth_request_fail_with_reply(request, json, strlen(json));
}

// The passdb chain's answer: login, temporary failure, or invalid_token.
void verified(enum passdb_result result, struct auth_request *request)
{
    switch (result) {
    case PASSDB_RESULT_OK:
        auth_request_success(request, "", 0);
        break;
    case PASSDB_RESULT_INTERNAL_FAILURE:
        auth_request_internal_failure(request);
        break;
    default:
        fail_with_status(request, false);
        break;
    }
}

// Parse the client's message and hand its token to the passdbs.
void parse_and_verify(struct auth_request *request, const unsigned char *data, size_t size)
{
    std::string_view msg(reinterpret_cast<const char *>(data), size);
    exo::sasl::ClientMessage m;
    std::string error;
    bool ok = is_oauthbearer(request) ? exo::sasl::parse_oauthbearer(msg, m, error)
                                      : exo::sasl::parse_xoauth2(msg, m, error);
    if (ok && m.user.empty())
        ok = false, error = "no user (a=) in the message";
    const char *why = nullptr;
    if (ok && !auth_request_set_username(request, m.user.c_str(), &why))
        ok = false, error = why ? why : "bad user name";
    if (!ok) {
        e_info(request->mech_event, "exoauth: %s", error.c_str());
        exo::wipe(m.token);
        fail_with_status(request, true);
        return;
    }
    auth_request_verify_plain(request, m.token.c_str(), verified);
    exo::wipe(m.token);
}

// Dovecot's auth_continue: nothing of ours is allowed to throw past it.
void mech_continue(struct auth_request *request, const unsigned char *data, size_t size)
{
    try {
        parse_and_verify(request, data, size);
    } catch (...) {
        e_error(request->mech_event, "exoauth: out of memory");
        auth_request_internal_failure(request);
    }
}

struct auth_request *mech_new()
{
    pool_t pool = pool_alloconly_create(MEMPOOL_GROWING "exoauth_mech", 2048);
    struct auth_request *request = p_new(pool, struct auth_request, 1);
    request->pool = pool;
    return request;
}

// The token is a password to Dovecot: plaintext-equivalent, needs TLS.
const struct mech_module kMechs[] = {
    {"XOAUTH2", MECH_SEC_PLAINTEXT, MECH_PASSDB_NEED_VERIFY_PLAIN, mech_new, mech_generic_auth_initial,
     mech_continue, mech_generic_auth_free},
    {"OAUTHBEARER", MECH_SEC_PLAINTEXT, MECH_PASSDB_NEED_VERIFY_PLAIN, mech_new, mech_generic_auth_initial,
     mech_continue, mech_generic_auth_free},
};

// Replace a mechanism of this name in the register the handlers use.
void replace_in_register(const struct mechanisms_register *reg, const struct mech_module &mech)
{
    for (const struct mech_module_list *l = reg ? reg->modules : nullptr; l; l = l->next)
        if (strcmp(l->module.mech_name, mech.mech_name) == 0)
            const_cast<struct mech_module_list *>(l)->module = mech;
}

} // namespace

void install_mechanisms()
{
    struct auth *auth = auth_default_protocol();
    for (const struct mech_module &mech : kMechs) {
        const struct mech_module *known = mech_module_find(mech.mech_name);
        if (known && known->auth_continue == mech.auth_continue)
            continue;
        mech_unregister_module(&mech);  // Dovecot's, by name
        mech_register_module(&mech);
        // auth_mechanisms was resolved into the register before this module
        // was loaded (passdb plugins load lazily, after mech_init).
        replace_in_register(auth ? auth->reg : nullptr, mech);
    }
}

} // namespace exo::dovecot
