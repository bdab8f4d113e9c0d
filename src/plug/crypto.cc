// crypto.cc: OpenSSL 3 for exoauth (see crypto.hh): RS256/PS256 signatures,
// digests and randomness. Every OpenSSL object is owned by a unique_ptr.
// Loading a certificate credential is in certload.cc (daemon side only:
// the plugins link this file and never load a key).
#include "crypto.hh"

#include "base64.hh"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>


namespace exo {

namespace {
struct MdCtxDeleter { void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); } };
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Digest data with md.
std::string digest(const EVP_MD *md, std::string_view data)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data.data(), data.size(), out, &n, md, nullptr))
        return "";
    return std::string((const char *)out, n);
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

} // namespace

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
