// jwt.hh: validation of JWT access tokens (RFC 7519, JWS compact form) as
// Entra ID issues them for a site's own API: RS256 only, key chosen by
// `kid` from a JWKS the caller trusts, and every claim checked against a
// policy (iss in v1/v2 forms with {tenantid}, aud, exp/nbf with bounded
// skew, tid allow-list, scp/roles, the user claim). Every field of the
// token is hostile: sizes are bounded and nothing in it is followed
// (jwk, jku, x5u and x5c headers are ignored); a crit header is refused
// (no extension is implemented), a control byte in a claim that is acted on
// is refused, and dates are range-checked before any cast or sum.
#pragma once

#include "crypto.hh"
#include "json.hh"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace exo {

constexpr size_t JWT_MAX_BYTES = 16384;

// A token cut into its parts; header and claims parsed, nothing checked yet.
struct JwtParts {
    JsonPtr header;
    JsonPtr claims;
    std::string signing_input; // header.payload as sent
    std::string signature;     // decoded
    std::string alg, kid;
};

// What a valid token must satisfy.
struct JwtPolicy {
    std::vector<std::string> issuers;   // exact, or with "{tenantid}" filled from tid
    std::vector<std::string> audiences; // one must equal aud
    std::vector<std::string> tenants;   // tid allow-list; empty: no tenant
    bool any_tenant = false;            // only when the configuration asks (introspection without tenants)
    std::vector<std::string> scopes;    // each must be in scp (delegated tokens)
    std::vector<std::string> roles;     // each must be in roles (app tokens)
    std::string user_claim = "upn";     // upn, preferred_username, email, oid
    int skew = 120;                     // seconds of clock skew allowed, <= 300
};

struct JwtVerdict {
    bool ok = false;
    std::string reason; // for the log: expired, bad signature, wrong audience...
    std::string user;   // the user claim's value when ok
    int64_t exp = 0;
};

// Split and decode; false with a reason (malformed, too large, bad base64,
// bad JSON, crit header, alg not RS256, no kid).
bool jwt_split(std::string_view token, JwtParts &out, std::string &reason);

// Check signature with key, then the claims against policy at now.
JwtVerdict jwt_validate(const JwtParts &parts, EVP_PKEY *key, const JwtPolicy &policy, int64_t now);

// The claim rules alone (no signature): for RFC 7662 introspection answers,
// whose issuer is checked only when issuers are configured.
JwtVerdict jwt_check_claims(const json_t *claims, const JwtPolicy &policy, int64_t now);

// An RSA public key from a JWK (kty RSA, n, e; use "sig" if present).
bool jwk_to_key(const json_t *jwk, EvpPkeyPtr &key, std::string &error);

// Every usable RSA signing key of a JWKS document, by kid.
bool jwks_parse(std::string_view json, std::map<std::string, EvpPkeyPtr> &keys, std::string &error);

} // namespace exo
