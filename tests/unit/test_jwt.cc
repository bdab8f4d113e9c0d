// test_jwt.cc: cmocka table of hostile and valid tokens for the JWT
// validator (src/core/jwt.cc): each claim rule, alg confusion (none, HS256
// keyed with the public key), bad signatures, kid handling, size limits,
// and JWKS parsing. Tokens are signed in the test with a fresh RSA key.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "base64.hh"
#include "jwt.hh"

#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstring>
#include <string>

using namespace exo;

namespace {
EvpPkeyPtr g_key, g_other;
const int64_t NOW = 1800000000;
const char *TID = "9188040d-6c67-4c5b-b112-36a304b66dad";

// Build a token from header and claims JSON, signed with key (RS256), or
// with the given signature bytes when sig is not null.
std::string make(const std::string &header, const std::string &claims, EVP_PKEY *key,
                 const std::string *sig = nullptr)
{
    std::string input = base64url_encode(header) + "." + base64url_encode(claims);
    std::string s, error;
    if (sig)
        s = *sig;
    else
        sign(key, SigAlg::RS256, input, s, error);
    return input + "." + base64url_encode(s);
}

// Claims of a good delegated token, with one member replaced or added.
std::string claims(const std::string &extra = "", int64_t exp = NOW + 3600, int64_t nbf = NOW - 10)
{
    return "{\"aud\":\"api://exoauth\",\"iss\":\"https://login.microsoftonline.com/" + std::string(TID) +
           "/v2.0\",\"tid\":\"" + TID + "\",\"exp\":" + std::to_string(exp) + ",\"nbf\":" +
           std::to_string(nbf) + ",\"scp\":\"Mail.Read IMAP.Login\",\"roles\":[\"Relay\"]," +
           "\"upn\":\"alice@contoso.example\"" + extra + "}";
}

const std::string HDR = R"({"alg":"RS256","typ":"JWT","kid":"k1"})";

// The policy every row is checked against.
JwtPolicy policy()
{
    JwtPolicy p;
    p.issuers = {"https://sts.windows.net/{tenantid}/", "https://login.microsoftonline.com/{tenantid}/v2.0"};
    p.audiences = {"api://exoauth", "00000000-1111-2222-3333-444444444444"};
    p.tenants = {TID};
    p.scopes = {"IMAP.Login"};
    p.user_claim = "upn";
    return p;
}

// Split and validate; "" when accepted, else the reason.
std::string verdict(const std::string &token, EVP_PKEY *key, const JwtPolicy &p = policy())
{
    JwtParts parts;
    std::string reason;
    if (!jwt_split(token, parts, reason))
        return reason;
    JwtVerdict v = jwt_validate(parts, key, p, NOW);
    return v.ok ? "" : v.reason;
}

// HS256 over input keyed with the RSA public key's PEM: the confusion attack.
std::string hs256_with_public_key(const std::string &input)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, g_key.get());
    char *pem = nullptr;
    long n = BIO_get_mem_data(b, &pem);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), pem, (int)n, (const unsigned char *)input.data(), input.size(), mac, &len);
    BIO_free(b);
    return std::string((char *)mac, len);
}

int setup(void **)
{
    g_key.reset(EVP_RSA_gen(2048));
    g_other.reset(EVP_RSA_gen(2048));
    return 0;
}
} // namespace

// Every row: a token and the reason it is refused ("" = accepted).
static void test_table(void **)
{
    std::string good = make(HDR, claims(), g_key.get());
    std::string flipped = good;
    flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
    std::string hs_input = base64url_encode(R"({"alg":"HS256","kid":"k1"})") + "." + base64url_encode(claims());
    std::string hs_sig = hs256_with_public_key(hs_input), empty;
    struct Row { std::string token; EVP_PKEY *key; const char *reason; } rows[] = {
        {good, g_key.get(), ""},
        {make(HDR, claims().replace(claims().find("\"iss\""), 0, "\"x\":1,"), g_key.get()), g_key.get(), ""},
        {make(HDR, claims(), g_key.get()), g_other.get(), "bad signature"},
        {flipped, g_key.get(), "bad signature"},
        {make(HDR, claims(), g_key.get()), nullptr, "bad signature"},
        {make(HDR, claims("", NOW - 200), g_key.get()), g_key.get(), "expired"},
        {make(HDR, claims("", NOW - 100), g_key.get()), g_key.get(), ""},
        {make(HDR, claims("", NOW + 3600, NOW + 600), g_key.get()), g_key.get(), "not yet valid"},
        {make(HDR, R"({"aud":"api://exoauth","upn":"a"})", g_key.get()), g_key.get(), "no exp"},
        {make(HDR, claims(",\"aud\":\"https://outlook.office365.com\""), g_key.get()), g_key.get(), "JSON"},
        {make(HDR, "{\"aud\":\"https://outlook.office365.com\"," + claims().substr(23), g_key.get()), g_key.get(), "wrong audience"},
        {make(HDR, "{\"aud\":[\"x\",\"api://exoauth\"]," + claims().substr(23), g_key.get()), g_key.get(), ""},
        {make(HDR, claims().replace(claims().find("v2.0"), 4, "v9.9"), g_key.get()), g_key.get(), "wrong issuer"},
        {make(HDR, claims().replace(claims().find("\"tid\":\"9"), 8, "\"tid\":\"8"), g_key.get()), g_key.get(), "wrong issuer"},
        {make(HDR, claims().replace(claims().find("IMAP.Login"), 10, "IMAP.Logon"), g_key.get()), g_key.get(), "missing scope"},
        {make(HDR, claims().replace(claims().find("upn"), 3, "xyz"), g_key.get()), g_key.get(), "no upn"},
        {make(R"({"alg":"none","kid":"k1"})", claims(), g_key.get(), &empty), g_key.get(), "alg none"},
        {make(R"({"alg":"none","kid":"k1"})", claims(), g_key.get()), g_key.get(), "alg none"},
        {hs_input + "." + base64url_encode(hs_sig), g_key.get(), "alg HS256"},
        {make(R"({"alg":"RS256"})", claims(), g_key.get()), g_key.get(), "kid"},
        {make(R"({"alg":"RS256","kid":""})", claims(), g_key.get()), g_key.get(), "kid"},
        {make(R"({"alg":"PS256","kid":"k1"})", claims(), g_key.get()), g_key.get(), "alg PS256"},
        {make(R"({"alg":"RS256","kid":"k1","jku":"https://evil","jwk":{"kty":"RSA"}})", claims(), g_key.get()), g_key.get(), ""},
        {make(R"({"alg":"RS256","kid":"k1","crit":["exp"],"exp":1})", claims(), g_key.get()), g_key.get(), "crit"},
        {make(R"({"alg":"RS256","kid":"k1","crit":[]})", claims(), g_key.get()), g_key.get(), "crit"},
        {make(R"({"alg":"RS256","kid":"k1","crit":null})", claims(), g_key.get()), g_key.get(), "crit"},
        {"abc", g_key.get(), "not a JWS"},
        {"a.b", g_key.get(), "not a JWS"},
        {"a.b.c.d", g_key.get(), "not a JWS"},
        {"", g_key.get(), "empty"},
        {"!!!." + base64url_encode(claims()) + ".AAAA", g_key.get(), "base64url"},
        {base64url_encode("[1]") + "." + base64url_encode(claims()) + ".AAAA", g_key.get(), "object"},
        {base64url_encode(HDR) + "." + base64url_encode(claims()) + ".", g_key.get(), "signature"},
        {std::string(JWT_MAX_BYTES + 1, 'a'), g_key.get(), "too large"},
    };
    for (const Row &r : rows) {
        std::string got = verdict(r.token, r.key);
        bool ok = *r.reason ? got.find(r.reason) != std::string::npos : got.empty();
        if (!ok)
            fail_msg("token %.60s...: got '%s', want '%s'", r.token.c_str(), got.c_str(), r.reason);
    }
}

// v1 issuer, tenant allow-list, roles, and the user claim come through.
static void test_policy_variants(void **)
{
    std::string v1 = claims().replace(claims().find("https://login.microsoftonline.com/"),
                                      std::string("https://login.microsoftonline.com/").size() + 36 + 5,
                                      "https://sts.windows.net/" + std::string(TID) + "/");
    JwtPolicy p = policy();
    assert_string_equal(verdict(make(HDR, v1, g_key.get()), g_key.get(), p).c_str(), "");
    p.tenants = {"other"};
    assert_string_equal(verdict(make(HDR, claims(), g_key.get()), g_key.get(), p).c_str(), "tenant not allowed");
    p = policy();
    p.roles = {"Relay"};
    assert_string_equal(verdict(make(HDR, claims(), g_key.get()), g_key.get(), p).c_str(), "");
    p.roles = {"Admin"};
    assert_string_equal(verdict(make(HDR, claims(), g_key.get()), g_key.get(), p).c_str(), "missing role");
    JwtParts parts;
    std::string reason;
    assert_true(jwt_split(make(HDR, claims(), g_key.get()), parts, reason));
    assert_string_equal(parts.kid.c_str(), "k1");
    JwtVerdict v = jwt_validate(parts, g_key.get(), policy(), NOW);
    assert_true(v.ok);
    assert_string_equal(v.user.c_str(), "alice@contoso.example");
    assert_int_equal(v.exp, NOW + 3600);
}

// Good claims as a jansson object, to be changed by a row.
JsonPtr claims_object()
{
    JsonPtr c;
    std::string error;
    json_parse_object(claims(), c, error);
    return c;
}

// Sign claims c with the good key and validate them.
std::string verdict_of(const json_t *c, const JwtPolicy &p = policy())
{
    char *text = json_dumps(c, JSON_COMPACT);
    std::string t(text ? text : "");
    free(text);
    return verdict(make(HDR, t, g_key.get()), g_key.get(), p);
}

// A control byte in any claim the validator acts on is refused, never
// mapped: TAB and LF would otherwise turn two user claims into one user.
static void test_control_bytes(void **)
{
    struct Row { const char *claim; const char *value; } rows[] = {
        {"upn", "alice\t@contoso.example"}, {"upn", "alice\n@contoso.example"},
        {"upn", "alice\x01@contoso.example"}, {"upn", "alice\x7f@contoso.example"},
        {"upn", "alice@contoso.example\r"}, {"tid", "9188040d-6c67-4c5b-b112-36a304b66da\x1f"},
        {"iss", "https://login.microsoftonline.com/x\n/v2.0"}, {"aud", "api://exoauth\t"},
        {"scp", "Mail.Read\tIMAP.Login"}, {"scp", "IMAP.Login\n"},
    };
    for (const Row &r : rows) {
        JsonPtr c = claims_object();
        json_object_set_new(c.get(), r.claim, json_string(r.value));
        std::string got = verdict_of(c.get());
        if (got.find("control byte") == std::string::npos)
            fail_msg("%s=%s: got '%s', want a control byte refusal", r.claim, r.value, got.c_str());
    }
    JsonPtr c = claims_object();
    json_object_set_new(c.get(), "roles", json_pack("[ss]", "Relay", "Ad\tmin"));
    assert_string_equal(verdict_of(c.get()).c_str(), "control byte in roles claim");
    json_object_set_new(c.get(), "roles", json_pack("[s]", "Relay"));
    json_object_set_new(c.get(), "aud", json_pack("[ss]", "x\n", "api://exoauth"));
    assert_string_equal(verdict_of(c.get()).c_str(), "control byte in aud claim");
    json_object_set_new(c.get(), "aud", json_string("api://exoauth"));
    json_object_set_new(c.get(), "upn", json_string("al ice@contoso.example\xc3\xa9"));
    assert_string_equal(verdict_of(c.get()).c_str(), "");
}

// Dates are integers or finite reals in [0, year 9999], checked before any
// cast; exp + skew cannot overflow.
static void test_dates(void **)
{
    struct Row { const char *claim; const char *json; const char *reason; } rows[] = {
        {"exp", "1800003600", ""}, {"exp", "1800003600.9", ""}, {"exp", "1.8000036e9", ""},
        {"exp", "1799999000", "expired"}, {"exp", "1799999000.5", "expired"}, {"exp", "0", "expired"},
        {"exp", "1e300", "bad exp claim"}, {"exp", "-1e300", "bad exp claim"}, {"exp", "-1", "bad exp claim"},
        {"exp", "9223372036854775807", "bad exp claim"}, {"exp", "-9223372036854775808", "bad exp claim"},
        {"exp", "253402300800", "bad exp claim"}, {"exp", "253402300799", ""},
        {"exp", "9.3e18", "bad exp claim"}, {"exp", "\"1800003600\"", "bad exp claim"},
        {"exp", "true", "bad exp claim"}, {"exp", "null", "bad exp claim"}, {"exp", "[1800003600]", "bad exp claim"},
        {"nbf", "1e300", "bad nbf claim"}, {"nbf", "-5", "bad nbf claim"}, {"nbf", "\"0\"", "bad nbf claim"},
        {"nbf", "9223372036854775807", "bad nbf claim"}, {"nbf", "1800000500.5", "not yet valid"},
        {"nbf", "1799999999.5", ""}, {"iat", "1799999990", ""}, {"iat", "1e300", "bad iat claim"},
        {"iat", "-1", "bad iat claim"}, {"iat", "{}", "bad iat claim"},
    };
    for (const Row &r : rows) {
        JsonPtr c = claims_object();
        json_error_t jerr;
        json_object_set_new(c.get(), r.claim, json_loads(r.json, JSON_DECODE_ANY, &jerr));
        std::string got = verdict_of(c.get());
        bool ok = *r.reason ? got.find(r.reason) != std::string::npos : got.empty();
        if (!ok)
            fail_msg("%s=%s: got '%s', want '%s'", r.claim, r.json, got.c_str(), r.reason);
    }
}

// JWKS: good keys by kid; bad entries skipped; nothing usable refused.
static void test_jwks(void **)
{
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(g_key.get(), "n", &n);
    EVP_PKEY_get_bn_param(g_key.get(), "e", &e);
    std::string nb(BN_num_bytes(n), '\0'), eb(BN_num_bytes(e), '\0');
    BN_bn2bin(n, (unsigned char *)&nb[0]);
    BN_bn2bin(e, (unsigned char *)&eb[0]);
    BN_free(n);
    BN_free(e);
    std::string jwk = "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"k1\",\"n\":\"" + base64url_encode(nb) +
                      "\",\"e\":\"" + base64url_encode(eb) + "\"}";
    std::string doc = "{\"keys\":[" + jwk + ",{\"kty\":\"EC\",\"kid\":\"k2\"},{\"kty\":\"RSA\",\"kid\":\"k3\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
    std::map<std::string, EvpPkeyPtr> keys;
    std::string error;
    assert_true(jwks_parse(doc, keys, error));
    assert_int_equal(keys.size(), 1);
    assert_string_equal(verdict(make(HDR, claims(), g_key.get()), keys["k1"].get()).c_str(), "");
    const char *bad[] = {"{}", "{\"keys\":{}}", "{\"keys\":[]}", "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"x\"}]}", "[1]", "nope"};
    for (const char *b : bad)
        assert_false(jwks_parse(b, keys, error));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_policy_variants),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_jwks),
    };
    return cmocka_run_group_tests(tests, setup, nullptr);
}
