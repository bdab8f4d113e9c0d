// crypto.hh: the OpenSSL 3 pieces exoauth needs, each handle owned by RAII:
// loading a certificate and its private key (certload.cc, libexocore only),
// thumbprints (x5t, x5t#S256), RS256/PS256 signatures, SHA digests and
// random bytes. Files it loads are configuration (trusted paths, untrusted
// contents: checked, never guessed; the key file by credfile.hh's rule).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

namespace exo {

struct EvpPkeyDeleter { void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); } };
struct X509Deleter { void operator()(X509 *p) const { X509_free(p); } };
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

enum class SigAlg { RS256, PS256 };

const char *sig_alg_name(SigAlg alg);

// The oldest queued OpenSSL error as text (and clear the queue).
std::string openssl_error();

// Raw digests (binary output).
std::string sha256(std::string_view data);
std::string sha1(std::string_view data);
std::string hex(std::string_view bin);

// n cryptographically random bytes; false if the RNG fails.
bool random_bytes(size_t n, std::string &out);

// A certificate credential: the PEM certificate and its RSA private key.
struct CertCredential {
    X509Ptr cert;
    EvpPkeyPtr key;
    std::string x5t;      // base64url(SHA-1(DER cert))
    std::string x5t_s256; // base64url(SHA-256(DER cert))
};

// Load cert_path (PEM) and key_path (PEM, unencrypted, RSA >= 2048 bits,
// read under credfile.hh's rule for secrets) and check that they belong
// together. False with a reason naming the file. Defined in certload.cc.
bool load_cert_credential(const std::string &cert_path, const std::string &key_path,
                          CertCredential &out, std::string &error);

// The certificate's notAfter as unix seconds; 0 if it cannot be read.
// Defined in certload.cc.
int64_t cert_not_after(const X509 *cert);

// Sign data with key (RSA) using alg: RS256 = PKCS#1 v1.5/SHA-256,
// PS256 = PSS/SHA-256 with salt length 32. Binary signature in sig.
bool sign(EVP_PKEY *key, SigAlg alg, std::string_view data, std::string &sig, std::string &error);

// Verify a signature made by sign(); used by tests and, later, JWT validation.
bool verify(EVP_PKEY *key, SigAlg alg, std::string_view data, std::string_view sig);

} // namespace exo
