// jwt.cc: JWT access-token validation (see jwt.hh). Order matters: the
// token is bounded and split, its header must say RS256 with a kid, the
// signature is verified before any claim is believed, then the claims are
// checked one by one, each failure with its own reason.
#include "jwt.hh"

#include "base64.hh"

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace exo {

namespace {
struct BnDeleter { void operator()(BIGNUM *b) const { BN_free(b); } };
struct ParamBldDeleter { void operator()(OSSL_PARAM_BLD *b) const { OSSL_PARAM_BLD_free(b); } };
struct ParamDeleter { void operator()(OSSL_PARAM *p) const { OSSL_PARAM_free(p); } };
struct PkeyCtxDeleter { void operator()(EVP_PKEY_CTX *c) const { EVP_PKEY_CTX_free(c); } };
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

// Decode one base64url segment that must hold a JSON object.
bool decode_json(std::string_view seg, JsonPtr &out, std::string &reason, const char *what)
{
    std::string raw, error;
    if (!base64url_decode(seg, raw)) {
        reason = std::string("bad base64url in ") + what;
        return false;
    }
    if (!json_parse_object(raw, out, error)) {
        reason = std::string(what) + ": " + error;
        return false;
    }
    return true;
}

constexpr int64_t MAX_DATE = 253402300799; // 9999-12-31T23:59:59Z

enum class Date { Absent, Bad, Ok };

// A NumericDate claim (RFC 7519 section 2): an integer or a finite real in
// [0, MAX_DATE], range-checked before any cast; reals lose their fraction.
Date date_claim(const json_t *claims, const char *name, int64_t &out)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return Date::Absent;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > MAX_DATE)
            return Date::Bad;
        out = (int64_t)i;
        return Date::Ok;
    }
    double d = json_is_real(v) ? json_real_value(v) : -1;
    if (!std::isfinite(d) || d < 0 || d > (double)MAX_DATE)
        return Date::Bad;
    out = (int64_t)d;
    return Date::Ok;
}

// True when s holds a byte below 0x20 or DEL.
bool has_control(const json_t *s)
{
    const char *p = json_string_value(s);
    for (size_t i = 0; i < json_string_length(s); i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return true;
    return false;
}

// A string claim, or an array's string members, with a control byte.
bool claim_has_control(const json_t *v)
{
    if (json_is_string(v))
        return has_control(v);
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        const json_t *m = json_array_get(v, i);
        if (json_is_string(m) && has_control(m))
            return true;
    }
    return false;
}

// No control byte in a claim we compare, match or map: refused rather than
// cleaned, so that two different claims can never name one user.
bool claims_clean(const json_t *c, const std::string &user_claim, std::string &reason)
{
    for (const char *name : {"iss", "tid", "aud", "scp", "roles", user_claim.c_str()})
        if (claim_has_control(json_object_get(c, name))) {
            reason = std::string("control byte in ") + name + " claim";
            return false;
        }
    return true;
}

// aud may be a string or an array of strings; one must be allowed.
bool audience_ok(const json_t *claims, const std::vector<std::string> &allowed)
{
    const json_t *aud = json_object_get(claims, "aud");
    auto allowed_one = [&](const json_t *v) {
        return json_is_string(v) &&
               std::find(allowed.begin(), allowed.end(), json_string_value(v)) != allowed.end();
    };
    if (json_is_array(aud)) {
        for (size_t i = 0; i < json_array_size(aud); i++)
            if (allowed_one(json_array_get(aud, i)))
                return true;
        return false;
    }
    return allowed_one(aud);
}

// iss must equal one configured issuer, with {tenantid} replaced by tid.
bool issuer_ok(const std::string &iss, const std::string &tid, const std::vector<std::string> &issuers)
{
    if (issuers.empty())
        return true;
    for (std::string want : issuers) {
        size_t p = want.find("{tenantid}");
        if (p != std::string::npos) {
            if (tid.empty())
                continue;
            want.replace(p, 10, tid);
        }
        if (iss == want)
            return true;
    }
    return false;
}

// Space-separated scp must contain every required scope.
bool scopes_ok(const json_t *claims, const std::vector<std::string> &required)
{
    std::string scp;
    json_get_string(claims, "scp", scp);
    std::string padded = " " + scp + " ";
    for (const auto &s : required)
        if (padded.find(" " + s + " ") == std::string::npos)
            return false;
    return true;
}

// The roles array must contain every required role.
bool roles_ok(const json_t *claims, const std::vector<std::string> &required)
{
    const json_t *roles = json_object_get(claims, "roles");
    for (const auto &r : required) {
        bool found = false;
        for (size_t i = 0; json_is_array(roles) && i < json_array_size(roles); i++) {
            const json_t *v = json_array_get(roles, i);
            found = found || (json_is_string(v) && r == json_string_value(v));
        }
        if (!found)
            return false;
    }
    return true;
}

// Each date claim present is well formed; exp is required.
bool dates_ok(const json_t *claims, int64_t &exp, int64_t &nbf, std::string &reason)
{
    int64_t iat = 0;
    const char *names[] = {"exp", "nbf", "iat"};
    int64_t *dest[] = {&exp, &nbf, &iat};
    for (size_t i = 0; i < 3; i++) {
        Date d = date_claim(claims, names[i], *dest[i]);
        if (d == Date::Bad || (d == Date::Absent && i == 0)) {
            reason = std::string(d == Date::Bad ? "bad " : "no ") + names[i] + " claim";
            return false;
        }
    }
    return true;
}

// Time claims: exp required and in the future, nbf not in the future; sums
// are checked (dates are bounded already, now may not be).
bool times_ok(const json_t *claims, int64_t now, int skew, int64_t &exp, std::string &reason)
{
    int64_t nbf = 0, last = 0, first = 0;
    if (!dates_ok(claims, exp, nbf, reason))
        return false;
    if (__builtin_add_overflow(exp, (int64_t)skew, &last) || now > last) {
        reason = "expired";
        return false;
    }
    if (!__builtin_add_overflow(now, (int64_t)skew, &first) && first < nbf) {
        reason = "not yet valid (nbf)";
        return false;
    }
    return true;
}

// Every claim rule after the signature: time, issuer, audience, tenant,
// scopes, roles, user.
bool claims_ok(const json_t *c, const JwtPolicy &p, int64_t now, JwtVerdict &v)
{
    std::string iss, tid;
    json_get_string(c, "iss", iss);
    json_get_string(c, "tid", tid);
    int skew = std::clamp(p.skew, 0, 300);
    if (!claims_clean(c, p.user_claim, v.reason) || !times_ok(c, now, skew, v.exp, v.reason))
        return false;
    if (!issuer_ok(iss, tid, p.issuers))
        v.reason = "wrong issuer";
    else if (!audience_ok(c, p.audiences))
        v.reason = "wrong audience";
    else if (!p.any_tenant && std::find(p.tenants.begin(), p.tenants.end(), tid) == p.tenants.end())
        v.reason = "tenant not allowed";
    else if (!scopes_ok(c, p.scopes))
        v.reason = "missing scope";
    else if (!roles_ok(c, p.roles))
        v.reason = "missing role";
    else if (!json_get_string(c, p.user_claim.c_str(), v.user) || v.user.empty() || v.user.size() > 256)
        v.reason = "no " + p.user_claim + " claim";
    else
        return true;
    return false;
}

// base64url big-endian integer of a JWK member.
BnPtr jwk_bignum(const json_t *jwk, const char *name)
{
    std::string s, raw;
    if (!json_get_string(jwk, name, s) || !base64url_decode(s, raw) || raw.empty() || raw.size() > 1024)
        return nullptr;
    return BnPtr(BN_bin2bn((const unsigned char *)raw.data(), (int)raw.size(), nullptr));
}
// The JOSE header: no crit (RFC 7515 section 4.1.11: we implement no
// extension, so any crit member is refused), alg RS256, a usable kid.
bool header_ok(JwtParts &p, std::string &reason)
{
    if (json_object_get(p.header.get(), "crit")) {
        reason = "crit header not supported";
        return false;
    }
    json_get_string(p.header.get(), "alg", p.alg);
    if (p.alg != "RS256") {
        reason = "alg " + (p.alg.empty() ? std::string("missing") : p.alg.substr(0, 16)) + " not allowed";
        return false;
    }
    if (!json_get_string(p.header.get(), "kid", p.kid) || p.kid.empty() || p.kid.size() > 128) {
        reason = "no usable kid";
        return false;
    }
    return true;
}
} // namespace

// header.payload.signature, bounded, RS256 with a kid.
bool jwt_split(std::string_view token, JwtParts &out, std::string &reason)
{
    if (token.empty() || token.size() > JWT_MAX_BYTES) {
        reason = token.empty() ? "empty token" : "token too large";
        return false;
    }
    size_t d1 = token.find('.'), d2 = token.rfind('.');
    if (d1 == std::string_view::npos || d1 == d2 || token.find('.', d1 + 1) != d2) {
        reason = "not a JWS compact token";
        return false;
    }
    JwtParts p;
    if (!decode_json(token.substr(0, d1), p.header, reason, "header") ||
        !decode_json(token.substr(d1 + 1, d2 - d1 - 1), p.claims, reason, "claims") || !header_ok(p, reason))
        return false;
    if (!base64url_decode(token.substr(d2 + 1), p.signature) || p.signature.empty()) {
        reason = "bad signature encoding";
        return false;
    }
    p.signing_input = std::string(token.substr(0, d2));
    out = std::move(p);
    return true;
}

// Signature first, then claims.
JwtVerdict jwt_validate(const JwtParts &parts, EVP_PKEY *key, const JwtPolicy &policy, int64_t now)
{
    JwtVerdict v;
    if (!key || !verify(key, SigAlg::RS256, parts.signing_input, parts.signature)) {
        v.reason = "bad signature";
        return v;
    }
    v.ok = claims_ok(parts.claims.get(), policy, now, v);
    if (!v.ok)
        v.user.clear();
    return v;
}

// Claims only, for answers already vouched for by an introspection endpoint.
JwtVerdict jwt_check_claims(const json_t *claims, const JwtPolicy &policy, int64_t now)
{
    JwtVerdict v;
    v.ok = claims_ok(claims, policy, now, v);
    if (!v.ok)
        v.user.clear();
    return v;
}

// RSA public key from n and e.
bool jwk_to_key(const json_t *jwk, EvpPkeyPtr &key, std::string &error)
{
    std::string kty, use;
    if (!json_get_string(jwk, "kty", kty) || kty != "RSA" ||
        (json_get_string(jwk, "use", use) && use != "sig")) {
        error = "not an RSA signing key";
        return false;
    }
    BnPtr n = jwk_bignum(jwk, "n"), e = jwk_bignum(jwk, "e");
    if (!n || !e || BN_num_bits(n.get()) < 2048 || BN_num_bits(n.get()) > 8192) {
        error = "bad RSA modulus or exponent";
        return false;
    }
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld.get()));
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY *pk = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &pk, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
        error = "cannot build the RSA key";
        return false;
    }
    key.reset(pk);
    return true;
}

// All usable keys of a JWKS; unusable entries are skipped.
bool jwks_parse(std::string_view json, std::map<std::string, EvpPkeyPtr> &keys, std::string &error)
{
    JsonPtr doc;
    if (!json_parse_object(json, doc, error))
        return false;
    const json_t *arr = json_object_get(doc.get(), "keys");
    if (!json_is_array(arr) || json_array_size(arr) > 64) {
        error = "JWKS has no keys array (or more than 64 keys)";
        return false;
    }
    std::map<std::string, EvpPkeyPtr> out;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        std::string kid, why;
        EvpPkeyPtr k;
        const json_t *jwk = json_array_get(arr, i);
        if (json_get_string(jwk, "kid", kid) && !kid.empty() && kid.size() <= 128 && jwk_to_key(jwk, k, why))
            out[kid] = std::move(k);
    }
    if (out.empty()) {
        error = "JWKS holds no usable RSA signing key";
        return false;
    }
    keys = std::move(out);
    return true;
}

} // namespace exo
