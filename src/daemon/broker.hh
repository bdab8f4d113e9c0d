// broker.hh: exoauthd's token broker. It owns, per account, the cached
// access token, the refresh token and the credential, and decides when to
// ask the IdP: one request in flight per account whatever the number of
// callers (single flight), refresh ahead of expiry, backoff and Retry-After
// after failures, a still-valid token served while the IdP is down. It runs
// on the event-loop thread; HTTPS happens on the Workers.
#pragma once

#include "alertrules.hh"
#include "backoff.hh"
#include "config.hh"
#include "crypto.hh"
#include "entra.hh"
#include "protocol.hh"
#include "registry.hh"
#include "secret.hh"
#include "store.hh"
#include "workers.hh"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace exo {

// The answer to a TOKEN request.
struct TokenReply {
    bool ok = false;
    Secret token;
    int64_t expires = 0;
    std::string hash;
    bool temporary = true;     // for failures: kind=temp or kind=perm
    std::string code;          // protocol failure code
    std::string reason;        // one line for the client and the log
    int retry_after = -1;
};
using TokenCallback = std::function<void(const TokenReply &)>;

// Device-code sign-in progress for LOGIN.
struct LoginPending {
    std::string user_code, verification_uri, message;
    int expires_in = 0;
};
using PendingCallback = std::function<void(const LoginPending &)>;

// Credentials an account's requests need, shared read-only with workers.
struct AccountSecrets {
    CertCredential cert;
    Secret client_secret;
};

struct AccountState;

class Broker {
public:
    Broker(Workers &workers, BackoffPolicy policy = {});
    ~Broker();
    // Load credentials and stored refresh tokens for cfg (before dropping
    // privileges). On a reload, accounts whose settings did not change keep
    // their cached tokens.
    bool configure(const Config &cfg, std::string &error);
    // Answer now from the cache, or after the (single) IdP request.
    void get_token(const std::string &account, TokenCallback cb);
    // Drop the cached token if its hash matches. True if dropped.
    bool invalidate(const std::string &account, const std::string &hash, std::string &why);
    // Run the device-code flow for account; pending is called once with the
    // code to show, done once at the end (ok: the refresh token is stored).
    // Polling stops early once wanted() turns false (the admin went away).
    void login(const std::string &account, PendingCallback pending, TokenCallback done,
               std::function<bool()> wanted);
    // Timers: background refreshes and login polls. Returns ms to next work.
    int tick();
    // One ACCOUNT line's fields per account.
    std::vector<proto::Fields> status() const;
    // Per account figures for METRICS.
    std::vector<AccountFigures> figures() const;
    // Per account facts for the alerts.
    std::vector<AlertFacts> alert_facts() const;
    // Prefetch every account's token (at start and after reload).
    void warm();
    uint64_t idp_requests() const { return idp_requests_; }

private:
    // One account of a configuration being loaded: its new state, or
    // keep=true to carry over the running one (same identity).
    struct Staged {
        std::string name;
        std::unique_ptr<AccountState> st;
        bool keep = false;
    };
    bool stage(const Config &cfg, TokenStore &store, std::vector<Staged> &out, std::string &error) const;
    void commit(std::vector<Staged> &staged);
    struct LoginState;
    void start_fetch(AccountState &st);
    void finish_fetch(const std::string &name, uint64_t generation, TokenResult r, double seconds);
    void answer_waiters(AccountState &st, const TokenReply &reply);
    TokenReply reply_from_cache(const AccountState &st) const;
    TokenReply reply_from_failure(const AccountState &st) const;
    void note_failure(AccountState &st, const TokenResult &r);
    static void clear_failures(AccountState &st);
    void login_poll(std::shared_ptr<LoginState> ls);
    void login_finish(std::shared_ptr<LoginState> ls, TokenResult r);

    Workers &workers_;
    BackoffPolicy policy_;
    std::shared_ptr<const Config> cfg_;
    std::shared_ptr<TokenStore> store_;
    std::map<std::string, std::unique_ptr<AccountState>, std::less<>> accounts_;
    std::vector<std::shared_ptr<LoginState>> logins_;
    uint64_t idp_requests_ = 0;
    uint64_t generation_ = 0;
};

} // namespace exo
