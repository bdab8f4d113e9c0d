// secret.hh: holding secrets in memory and naming them in logs.
// A Secret wipes its bytes (OPENSSL_cleanse) when it dies; short_hash() gives
// the 12-hex-digit SHA-256 prefix that stands for a token or secret in every
// log line. Used by every layer that touches tokens; inputs are trusted.
#pragma once

#include <string>
#include <string_view>

namespace exo {

// Overwrite a buffer so the secret does not linger in freed memory.
void wipe(void *p, size_t n);
void wipe(std::string &s); // and empty it

// Constant-time equality for secrets and hashes.
bool secure_equal(std::string_view a, std::string_view b);

// First 12 hex digits of SHA-256(s): what logs print instead of a secret.
std::string short_hash(std::string_view s);

// A string that is wiped on destruction and on reassignment.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string v) : v_(std::move(v)) {}
    Secret(const Secret &o) : v_(o.v_) {}
    Secret(Secret &&o) noexcept : v_(std::move(o.v_)) { o.clear(); }
    Secret &operator=(const Secret &o);
    Secret &operator=(Secret &&o) noexcept;
    ~Secret() { clear(); }

    const std::string &str() const { return v_; }
    bool empty() const { return v_.empty(); }
    size_t size() const { return v_.size(); }
    void clear() { wipe(v_); v_.clear(); }

private:
    std::string v_;
};

} // namespace exo
