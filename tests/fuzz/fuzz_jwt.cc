// fuzz_jwt.cc: libFuzzer target for the JWT parser and validator and the
// JWKS parser: any bytes as a token (checked with a fixed RSA key and a
// fixed policy) and as a JWKS document. Nothing may be accepted without the
// key's signature, and nothing may crash.
// fuzz-sources: src/core/jwt.cc src/plug/json.cc src/plug/base64.cc src/plug/crypto.cc src/plug/secret.cc
#include "jwt.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static EvpPkeyPtr key(EVP_RSA_gen(2048));
    std::string in((const char *)data, size), reason;
    JwtParts parts;
    if (jwt_split(in, parts, reason)) {
        JwtPolicy p;
        p.issuers = {"https://sts.windows.net/{tenantid}/"};
        p.audiences = {"api://exoauth"};
        if (jwt_validate(parts, key.get(), p, 1800000000).ok)
            abort(); // the fuzzer cannot forge an RS256 signature
    }
    std::map<std::string, EvpPkeyPtr> keys;
    jwks_parse(in, keys, reason);
    return 0;
}
