// harden.cc: core-dump and secure-heap hardening (see harden.hh). Linux
// only; runs once at start, before secrets exist in memory.
#include "harden.hh"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <sys/prctl.h>
#include <sys/resource.h>

namespace exo {

namespace {
constexpr size_t SECURE_HEAP = 1 << 20;  // bytes for private-key numbers
constexpr size_t SECURE_MIN = 32;        // smallest secure allocation
} // namespace

// PR_SET_DUMPABLE 0 first (it alone stops every core), then RLIMIT_CORE 0.
bool harden_no_dumps(std::string &error)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        error = std::string("prctl(PR_SET_DUMPABLE): ") + strerror(errno);
        return false;
    }
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) {
        struct rlimit cur;
        if (getrlimit(RLIMIT_CORE, &cur) == 0 && cur.rlim_cur == 0)
            return true;
        error = std::string("setrlimit(RLIMIT_CORE): ") + strerror(errno) + " (set LimitCORE=0)";
        return false;
    }
    return true;
}

// 1 MiB of secure heap: RSA private numbers decoded from PEM live there.
bool harden_secure_heap(std::string &error)
{
    if (CRYPTO_secure_malloc_initialized())
        return true;
    if (CRYPTO_secure_malloc_init(SECURE_HEAP, SECURE_MIN) == 0) {
        error = "OpenSSL secure heap: cannot be set up";
        return false;
    }
    return true;
}

// Both guards in place?
bool harden_is_dumpless()
{
    struct rlimit cur;
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 && getrlimit(RLIMIT_CORE, &cur) == 0 && cur.rlim_cur == 0;
}

} // namespace exo
