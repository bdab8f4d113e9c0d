// test_crypto.cc: cmocka tests of the OpenSSL layer and the client
// assertion (src/plug/crypto.cc, src/core/assertion.cc): credential loading and its
// refusals, RS256/PS256 sign and verify, thumbprints computed independently,
// and an assertion whose header, claims and signature are checked.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "assertion.hh"
#include "base64.hh"
#include "crypto.hh"
#include "json.hh"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>

using namespace exo;

namespace {
std::string g_dir;

// A key of the given type and size.
EvpPkeyPtr make_key(int bits, bool ec = false)
{
    return EvpPkeyPtr(ec ? EVP_EC_gen("P-256") : EVP_RSA_gen((unsigned)bits));
}

// A self-signed certificate for key.
X509Ptr make_cert(EVP_PKEY *key)
{
    X509Ptr c(X509_new());
    ASN1_INTEGER_set(X509_get_serialNumber(c.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(c.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(c.get()), 86400);
    X509_set_pubkey(c.get(), key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(c.get()), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(c.get(), X509_get_subject_name(c.get()));
    X509_sign(c.get(), key, EVP_sha256());
    return c;
}

// Write a key and its certificate as name.key / name.crt in g_dir.
void write_pair(const char *name, EVP_PKEY *key, X509 *cert)
{
    std::string k = g_dir + "/" + name + ".key", c = g_dir + "/" + name + ".crt";
    FILE *f = fopen(k.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
    chmod(k.c_str(), 0600); // the rule for secrets (credfile.hh)
    f = fopen(c.c_str(), "w");
    PEM_write_X509(f, cert);
    fclose(f);
}

// Path of a file in g_dir.
std::string at(const std::string &name) { return g_dir + "/" + name; }

// Set up: a good pair, a small key, an EC key, a mismatched pair.
int setup(void **)
{
    char tmpl[] = "/tmp/exo-crypto-XXXXXX";
    g_dir = mkdtemp(tmpl);
    EvpPkeyPtr good = make_key(2048), other = make_key(2048), small = make_key(1024), ec = make_key(0, true);
    write_pair("good", good.get(), make_cert(good.get()).get());
    write_pair("small", small.get(), make_cert(small.get()).get());
    write_pair("ec", ec.get(), make_cert(ec.get()).get());
    write_pair("other", other.get(), make_cert(other.get()).get());
    FILE *f = fopen(at("junk.crt").c_str(), "w");
    fputs("not a certificate\n", f);
    fclose(f);
    chmod(at("junk.crt").c_str(), 0600); // also used as a (bad) key
    return 0;
}

// Tear down: remove the keys.
int teardown(void **)
{
    return system(("rm -rf " + g_dir).c_str()) == 0 ? 0 : -1;
}
} // namespace

// The good pair loads; thumbprints match an independent computation.
static void test_load_good(void **)
{
    CertCredential c;
    std::string error;
    assert_true(load_cert_credential(at("good.crt"), at("good.key"), c, error));
    unsigned char *der = nullptr;
    int n = i2d_X509(c.cert.get(), &der);
    std::string d((char *)der, (size_t)n);
    OPENSSL_free(der);
    assert_string_equal(c.x5t.c_str(), base64url_encode(sha1(d)).c_str());
    assert_string_equal(c.x5t_s256.c_str(), base64url_encode(sha256(d)).c_str());
    assert_int_equal(c.x5t.size(), 27);
    assert_int_equal(c.x5t_s256.size(), 43);
}

// Each bad credential is refused with a reason naming the problem.
static void test_load_refusals(void **)
{
    struct Row { const char *cert, *key, *why; } rows[] = {
        {"missing.crt", "good.key", "cannot read"},  {"good.crt", "missing.key", "does not exist"},
        {"junk.crt", "good.key", "not a PEM certificate"}, {"good.crt", "junk.crt", "private key"},
        {"small.crt", "small.key", "2048"},          {"ec.crt", "ec.key", "not an RSA"},
        {"good.crt", "other.key", "does not match"},
    };
    for (const Row &r : rows) {
        CertCredential c;
        std::string error;
        if (load_cert_credential(at(r.cert), at(r.key), c, error) || error.find(r.why) == std::string::npos)
            fail_msg("%s + %s: want '%s', got '%s'", r.cert, r.key, r.why, error.c_str());
    }
}

// Both algorithms sign and verify; tampering or the wrong alg fails.
static void test_sign_verify(void **)
{
    CertCredential c;
    std::string error, sig;
    assert_true(load_cert_credential(at("good.crt"), at("good.key"), c, error));
    for (SigAlg alg : {SigAlg::RS256, SigAlg::PS256}) {
        assert_true(sign(c.key.get(), alg, "data", sig, error));
        assert_int_equal(sig.size(), 256);
        assert_true(verify(c.key.get(), alg, "data", sig));
        assert_false(verify(c.key.get(), alg, "datA", sig));
        SigAlg other = alg == SigAlg::RS256 ? SigAlg::PS256 : SigAlg::RS256;
        assert_false(verify(c.key.get(), other, "data", sig));
        sig[10] ^= 1;
        assert_false(verify(c.key.get(), alg, "data", sig));
    }
}

// Decode a JWT segment as a JSON object.
static JsonPtr segment(const std::string &seg)
{
    std::string json, error;
    JsonPtr j;
    assert_true(base64url_decode(seg, json));
    assert_true(json_parse_object(json, j, error));
    return j;
}

// The assertion's header, claims and signature are what Entra expects.
static void test_assertion(void **)
{
    CertCredential c;
    std::string error;
    assert_true(load_cert_credential(at("good.crt"), at("good.key"), c, error));
    for (SigAlg alg : {SigAlg::PS256, SigAlg::RS256}) {
        AssertionParams p{"client-1", "https://login/t/oauth2/v2.0/token", alg, 1000, 300, ""};
        std::string jwt;
        assert_true(build_client_assertion(c, p, jwt, error));
        size_t d1 = jwt.find('.'), d2 = jwt.rfind('.');
        JsonPtr h = segment(jwt.substr(0, d1)), cl = segment(jwt.substr(d1 + 1, d2 - d1 - 1));
        std::string s;
        assert_true(json_get_string(h.get(), "alg", s) && s == sig_alg_name(alg));
        const char *thumb = alg == SigAlg::PS256 ? "x5t#S256" : "x5t";
        assert_true(json_get_string(h.get(), thumb, s));
        assert_string_equal(s.c_str(), (alg == SigAlg::PS256 ? c.x5t_s256 : c.x5t).c_str());
        int64_t exp = 0, nbf = 0;
        assert_true(json_get_string(cl.get(), "aud", s) && s == p.audience);
        assert_true(json_get_string(cl.get(), "iss", s) && s == "client-1");
        assert_true(json_get_string(cl.get(), "sub", s) && s == "client-1");
        assert_true(json_get_string(cl.get(), "jti", s) && s.size() == 32);
        assert_true(json_get_int(cl.get(), "exp", exp) && exp == 1300);
        assert_true(json_get_int(cl.get(), "nbf", nbf) && nbf == 1000);
        std::string sig;
        assert_true(base64url_decode(jwt.substr(d2 + 1), sig));
        assert_true(verify(c.key.get(), alg, jwt.substr(0, d2), sig));
    }
}

// Two assertions never share a jti.
static void test_assertion_jti_unique(void **)
{
    CertCredential c;
    std::string error, a, b;
    assert_true(load_cert_credential(at("good.crt"), at("good.key"), c, error));
    AssertionParams p{"c", "https://a", SigAlg::PS256, 1, 300, ""};
    assert_true(build_client_assertion(c, p, a, error) && build_client_assertion(c, p, b, error));
    std::string ja, jb;
    json_get_string(segment(a.substr(a.find('.') + 1, a.rfind('.') - a.find('.') - 1)).get(), "jti", ja);
    json_get_string(segment(b.substr(b.find('.') + 1, b.rfind('.') - b.find('.') - 1)).get(), "jti", jb);
    assert_string_not_equal(ja.c_str(), jb.c_str());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good),  cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_sign_verify), cmocka_unit_test(test_assertion),
        cmocka_unit_test(test_assertion_jti_unique),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
