// crypto.cc: OpenSSL 3 for exoauth (see crypto.hh): certificate credential
// loading and checking, thumbprints, RS256/PS256 signatures, digests and
// randomness. Every OpenSSL object is owned by a unique_ptr; file contents
// are checked (RSA, >= 2048 bits, key matches certificate).
#include "crypto.hh"

#include "base64.hh"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace exo {

namespace {
struct BioDeleter { void operator()(BIO *b) const { BIO_free(b); } };
struct MdCtxDeleter { void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); } };
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// The oldest queued OpenSSL error as text (and clear the queue).
std::string openssl_error()
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown OpenSSL error";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

// Digest data with md.
std::string digest(const EVP_MD *md, std::string_view data)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data.data(), data.size(), out, &n, md, nullptr))
        return "";
    return std::string((const char *)out, n);
}

// Open path for reading as a BIO, with errno's reason on failure.
BioPtr open_file(const std::string &path, std::string &error)
{
    BioPtr b(BIO_new_file(path.c_str(), "r"));
    if (!b)
        error = "cannot read " + path + ": " + strerror(errno ? errno : ENOENT);
    ERR_clear_error();
    return b;
}

// The certificate in DER form.
std::string cert_der(X509 *cert)
{
    unsigned char *der = nullptr;
    int n = i2d_X509(cert, &der);
    if (n <= 0)
        return "";
    std::string r((const char *)der, (size_t)n);
    OPENSSL_free(der);
    return r;
}

// Set RSA padding (and PSS salt length) on a signing or verifying context.
bool set_padding(EVP_PKEY_CTX *pctx, SigAlg alg)
{
    if (alg == SigAlg::RS256)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
}

// Load the certificate half of a credential.
bool load_cert(const std::string &path, X509Ptr &out, std::string &error)
{
    BioPtr b = open_file(path, error);
    if (!b)
        return false;
    out.reset(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (!out) {
        error = path + ": not a PEM certificate (" + openssl_error() + ")";
        return false;
    }
    return true;
}

// Load the key half: unencrypted PEM, RSA, at least 2048 bits.
bool load_key(const std::string &path, EvpPkeyPtr &out, std::string &error)
{
    BioPtr b = open_file(path, error);
    if (!b)
        return false;
    char empty[] = "";
    out.reset(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, empty));
    if (!out) {
        error = path + ": not an unencrypted PEM private key (" + openssl_error() + ")";
        return false;
    }
    if (EVP_PKEY_get_base_id(out.get()) != EVP_PKEY_RSA) {
        error = path + ": not an RSA private key (Entra ID assertions need RSA)";
        return false;
    }
    if (EVP_PKEY_get_bits(out.get()) < 2048) {
        error = path + ": RSA key shorter than 2048 bits";
        return false;
    }
    return true;
}
} // namespace

const char *sig_alg_name(SigAlg alg) { return alg == SigAlg::RS256 ? "RS256" : "PS256"; }

std::string sha256(std::string_view data) { return digest(EVP_sha256(), data); }
std::string sha1(std::string_view data) { return digest(EVP_sha1(), data); }

// Lower-case hex of binary data.
std::string hex(std::string_view bin)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bin.size() * 2);
    for (unsigned char c : bin) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// n bytes from the CSPRNG.
bool random_bytes(size_t n, std::string &out)
{
    std::string r(n, '\0');
    if (n && RAND_bytes((unsigned char *)&r[0], (int)n) != 1)
        return false;
    out = std::move(r);
    return true;
}

// Certificate + key, checked to belong together, with both thumbprints.
bool load_cert_credential(const std::string &cert_path, const std::string &key_path,
                          CertCredential &out, std::string &error)
{
    CertCredential c;
    if (!load_cert(cert_path, c.cert, error) || !load_key(key_path, c.key, error))
        return false;
    if (X509_check_private_key(c.cert.get(), c.key.get()) != 1) {
        ERR_clear_error();
        error = key_path + ": does not match the certificate " + cert_path;
        return false;
    }
    std::string der = cert_der(c.cert.get());
    if (der.empty()) {
        error = cert_path + ": cannot encode the certificate";
        return false;
    }
    c.x5t = base64url_encode(sha1(der));
    c.x5t_s256 = base64url_encode(sha256(der));
    out = std::move(c);
    return true;
}

// RS256 or PS256 signature of data.
bool sign(EVP_PKEY *key, SigAlg alg, std::string_view data, std::string &sig, std::string &error)
{
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX *pctx = nullptr;
    size_t n = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1 ||
        !set_padding(pctx, alg) ||
        EVP_DigestSign(ctx.get(), nullptr, &n, (const unsigned char *)data.data(), data.size()) != 1) {
        error = "signing failed: " + openssl_error();
        return false;
    }
    std::string s(n, '\0');
    if (EVP_DigestSign(ctx.get(), (unsigned char *)&s[0], &n, (const unsigned char *)data.data(),
                       data.size()) != 1) {
        error = "signing failed: " + openssl_error();
        return false;
    }
    s.resize(n);
    sig = std::move(s);
    return true;
}

// Check a signature made with alg.
bool verify(EVP_PKEY *key, SigAlg alg, std::string_view data, std::string_view sig)
{
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX *pctx = nullptr;
    bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1 &&
              set_padding(pctx, alg) &&
              EVP_DigestVerify(ctx.get(), (const unsigned char *)sig.data(), sig.size(),
                               (const unsigned char *)data.data(), data.size()) == 1;
    ERR_clear_error();
    return ok;
}

} // namespace exo
