// secret.cc: wiping, constant-time comparison and the short hash that
// names a secret in logs (see secret.hh). Inputs are trusted.
#include "secret.hh"

#include "crypto.hh"

#include <openssl/crypto.h>


namespace exo {

// OPENSSL_cleanse cannot be optimised away.
void wipe(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

// Wipe a string's bytes and empty it.
void wipe(std::string &s)
{
    if (!s.empty())
        OPENSSL_cleanse(&s[0], s.size());
    s.clear();
}

// Equal length and equal bytes, in time independent of where they differ.
bool secure_equal(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// 12 hex digits of SHA-256.
std::string short_hash(std::string_view s)
{
    return hex(sha256(s)).substr(0, 12);
}

// Copy, wiping what was held before.
Secret &Secret::operator=(const Secret &o)
{
    if (this != &o) {
        clear();
        v_ = o.v_;
    }
    return *this;
}

// Move, wiping what was held before and the source.
Secret &Secret::operator=(Secret &&o) noexcept
{
    if (this != &o) {
        clear();
        v_ = std::move(o.v_);
        o.clear();
    }
    return *this;
}

} // namespace exo
