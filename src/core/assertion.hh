// assertion.hh: the client assertion of RFC 7523 (private_key_jwt) that
// Entra ID's v2.0 token endpoint accepts instead of a client secret: a JWT
// signed with the app's certificate key. Called by the broker before each
// client-credentials request; inputs come from the trusted configuration.
#pragma once

#include "crypto.hh"

#include <cstdint>
#include <string>

namespace exo {

struct AssertionParams {
    std::string client_id; // iss and sub
    std::string audience;  // the token endpoint URL
    SigAlg alg = SigAlg::PS256; // PS256 -> header x5t#S256; RS256 -> header x5t
    int64_t now = 0;       // unix seconds: nbf and iat
    int lifetime = 300;    // exp = now + lifetime (Entra allows up to 10 min)
    std::string jti;       // unique id; random when empty
};

// Build header.payload.signature. False with a reason on failure.
bool build_client_assertion(const CertCredential &cred, const AssertionParams &p,
                            std::string &jwt, std::string &error);

} // namespace exo
