// validator.hh: exoauthd's client-token validator (VALIDATE): JWTs from
// Entra ID checked locally against the tenant's key set, discovered through
// OIDC metadata and fetched on a worker. Keys are cached per kid; an unknown
// kid triggers at most one refetch per kid_refetch_interval (300 s), so a flood of
// made-up kids never becomes a flood of requests to the IdP; the last good
// set is kept when a fetch fails. Trust is pinned: a token's tid must be
// the configured tenant's id (a domain is resolved to it through the
// discovery document's issuer) or one listed in "tenants". Verdicts are cached by a hash of the
// token (never the token), never past its exp; refusals briefly.
#pragma once

#include "config.hh"
#include "jwt.hh"
#include "lograte.hh"
#include "lru.hh"
#include "secret.hh"
#include "usermap.hh"
#include "workers.hh"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace exo {

struct ValidateReply {
    bool ok = false;
    bool temporary = false;  // the key set could not be had: try later
    std::string code;        // invalid_token, idp_unavailable, not_configured
    std::string reason;      // expired, bad signature, wrong audience...
    std::string user;        // after user_map
    std::string claim;       // the user claim as the token carries it
    int64_t expires = 0;
};
using ValidateCallback = std::function<void(const ValidateReply &)>;

// One key-set fetch, filled on a worker.
struct KeyFetch {
    std::string tenant;                       // [validate] tenant it was started for
    std::map<std::string, EvpPkeyPtr> keys;   // by kid
    std::string tid;                          // the home tenant's id from discovery ("" for a multi-tenant word)
    std::string error;
    bool ok = false;
};

// The files [validate] names, read before anything is committed so that a
// reload with a bad one changes nothing.
struct ValidateFiles {
    Secret secret;     // introspection: our client secret
    UserMap user_map;  // claim -> local user
};
// Read them by the file rule; false with a reason.
bool validate_files_load(const Config &cfg, ValidateFiles &out, std::string &error);

class Validator {
public:
    explicit Validator(Workers &workers);
    // Take [validate] (and the authority) from a (re)loaded configuration
    // and the files read from it.
    void configure(const Config &cfg, ValidateFiles &&files);
    // Validate token, whose hex SHA-256 the caller computed once (digest:
    // the cache key; its first 12 digits name the token in logs); cb is
    // called now or after one key-set fetch.
    void validate(const std::string &token, const std::string &digest, ValidateCallback cb);
    // Refresh the key set in the background when its TTL has run out.
    void tick();
    // Figures for STATUS.
    size_t keys() const { return keys_.size(); }
    uint64_t fetches() const { return fetches_; }

private:
    struct Waiter {
        Secret token;
        std::string hash;
        ValidateCallback cb;
    };
    struct Cached {
        ValidateReply reply;
        double until = 0;
    };
    void check(const std::string &token, const std::string &hash, ValidateCallback cb, bool may_fetch);
    void unknown_kid(const std::string &token, const std::string &hash, ValidateCallback cb, bool may_fetch);
    void forget_keys();
    void pin_tenants();
    void warn_widened_trust() const;
    void start_fetch();
    void finish_fetch(std::shared_ptr<KeyFetch> f);
    void remember(const std::string &hash, ValidateReply &r);
    const ValidateReply *recall(const std::string &hash);
    void introspect(const std::string &token, const std::string &hash, ValidateCallback cb);
    void finish_introspect(const std::string &hash, ValidateReply r, uint64_t generation);

    Workers &workers_;
    ValidateConfig vc_;
    std::shared_ptr<const Config> cfg_;
    JwtPolicy policy_;
    std::map<std::string, EvpPkeyPtr> keys_;
    std::string home_tid_;  // the tenant's id (GUID), from the config or discovery
    double keys_fetched_ = 0;
    double last_kid_fetch_ = -1e9;
    double last_attempt_ = -1e9;
    bool fetching_ = false;
    bool last_fetch_ok_ = false;
    uint64_t fetches_ = 0;
    std::vector<Waiter> waiters_;
    uint64_t generation_ = 0;  // configurations loaded: a verdict of an older one is not kept
    LogLimiter log_limit_;     // introspection failures
    LruMap<Cached> accepted_;  // acceptances, least recently used evicted first
    LruMap<Cached> refused_;   // refusals apart: a flood of them never evicts an acceptance
    std::unordered_map<std::string, std::vector<ValidateCallback>> introspecting_;
    Secret secret_;
    UserMap user_map_;
};

} // namespace exo
