// registry.hh: exoauthd's metrics registry: the counters and latency
// histograms the handlers, the broker, the validator and the event loop
// update, and the rendering of them (with the broker's per-account
// figures) as a Prometheus text exposition for the METRICS command. Every
// label comes from a bounded set (results, refusal reasons, outcomes,
// configured account names, at most MAX_UID_LABELS peer uids); none is a
// token, a secret or a token hash. Event-loop thread only: no locks.
#pragma once

#include "metrics.hh"

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace exo {

class Broker;
class Validator;
struct ServerFigures;

// TOKEN results: "ok" or a failure code of docs/PROTOCOL.md.
constexpr const char *kTokenResults[] = {"ok",         "unknown_account", "not_allowed",     "not_mapped",
                                         "no_refresh_token", "idp_unavailable", "rate_limited", "busy",
                                         "idp_refused", "error"};
// VALIDATE results.
constexpr const char *kValidateResults[] = {"ok", "invalid_token", "idp_unavailable", "not_configured",
                                            "not_allowed", "error"};
// Why a VALIDATE was refused (kind=perm), as a bounded set.
constexpr const char *kRefusalReasons[] = {
    "expired",      "not_yet_valid",  "bad_signature", "wrong_audience", "wrong_issuer", "tenant_not_allowed",
    "missing_scope", "missing_role",  "no_user_claim", "unknown_kid",    "bad_header",   "control_byte",
    "bad_claim",    "malformed",      "login_mismatch", "inactive",      "other"};
// Why a connecting peer was turned away.
constexpr const char *kPeerRefusals[] = {"not_allowed", "too_many_connections", "too_many_per_uid"};
// Outcomes of a request to the IdP's token endpoint.
constexpr const char *kIdpOutcomes[] = {"ok", "temp", "perm", "throttled"};

constexpr size_t N_TOKEN_RESULTS = sizeof(kTokenResults) / sizeof(kTokenResults[0]);
constexpr size_t N_VALIDATE_RESULTS = sizeof(kValidateResults) / sizeof(kValidateResults[0]);
constexpr size_t N_REFUSAL_REASONS = sizeof(kRefusalReasons) / sizeof(kRefusalReasons[0]);
constexpr size_t N_PEER_REFUSALS = sizeof(kPeerRefusals) / sizeof(kPeerRefusals[0]);
constexpr size_t N_IDP_OUTCOMES = sizeof(kIdpOutcomes) / sizeof(kIdpOutcomes[0]);
constexpr size_t MAX_UID_LABELS = 64;  // distinct peer uids counted apart; the rest as uid="other"

// What the broker knows of one account, for the exposition.
struct AccountFigures {
    std::string name;
    const char *state = "empty";    // empty, valid, refreshing, backoff, failed
    int64_t token_expires = 0;      // 0: no cached token
    const char *credential = nullptr;  // certificate, secret, or none
    int64_t credential_expires = 0; // 0: not known
    int64_t refresh_deadline = 0;   // delegated: estimated inactivity deadline; 0: none
    uint64_t idp[N_IDP_OUTCOMES] = {};
    uint64_t served = 0;
    uint64_t rejected = 0;          // dropped after upstream rejected them (INVALIDATE)
};

struct DaemonMetrics {
    Histogram token_seconds{kRequestBuckets, kRequestBucketCount};
    Histogram validate_seconds{kRequestBuckets, kRequestBucketCount};
    Histogram idp_seconds{kIdpBuckets, kIdpBucketCount};
    uint64_t token_results[N_TOKEN_RESULTS] = {};
    uint64_t validate_results[N_VALIDATE_RESULTS] = {};
    uint64_t refusals[N_REFUSAL_REASONS] = {};
    uint64_t peer_refusals[N_PEER_REFUSALS] = {};
    uint64_t jwks_fetches_ok = 0, jwks_fetches_failed = 0;
    std::map<uid_t, uint64_t> accepted_by_uid;  // at most MAX_UID_LABELS entries
    uint64_t accepted_other = 0;
    double start_time = 0;                      // unix seconds

    // A TOKEN answered with code ("" or "ok" for a token) after seconds.
    void count_token(const std::string &code, double seconds);
    // A VALIDATE answered; a refusal's reason is counted by kind.
    void count_validate(const std::string &code, bool temporary, const std::string &reason, double seconds);
    // An accepted connection of uid.
    void count_connection(uid_t uid);
    // A peer turned away, by the reason it was told.
    void count_peer_refusal(const char *reason);
};

// The event loop's registry.
DaemonMetrics &daemon_metrics();

// The bounded label of a VALIDATE refusal reason.
const char *refusal_label(const std::string &reason);

// The whole exposition, figures of the broker and validator included.
std::string render_metrics(const DaemonMetrics &m, const std::vector<AccountFigures> &accounts,
                           const Validator &validator, const ServerFigures &server);

} // namespace exo
