// certload.cc: loading a certificate credential (see crypto.hh): the PEM
// certificate, its private key read under credfile.hh's rule for secrets
// (then parsed from memory and the buffer wiped), and their match. In
// libexocore only: the plugins never hold a key. Contents are untrusted.
#include "crypto.hh"

#include "base64.hh"
#include "credfile.hh"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace exo {

namespace {
struct BioDeleter { void operator()(BIO *b) const { BIO_free(b); } };
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

constexpr CredRule KEY_RULE{"private_key", CredKind::Secret, CRED_MAX};

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
    Secret pem;
    if (!cred_read(path, KEY_RULE, pem, error))
        return false;
    BioPtr b(BIO_new_mem_buf(pem.str().data(), (int)pem.size()));
    char empty[] = "";
    if (b)
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

// notAfter through ASN1_TIME_to_tm and timegm (UTC).
int64_t cert_not_after(const X509 *cert)
{
    struct tm tm = {};
    const ASN1_TIME *t = cert ? X509_get0_notAfter(cert) : nullptr;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

} // namespace exo
