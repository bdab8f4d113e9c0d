// harden.hh: keeps the secrets of exoauthd (and exoauthctl, which loads the
// same credentials for doctor) out of core dumps and out of other
// processes' reach: the process is made non-dumpable with no core size, and
// OpenSSL's secure heap (mlocked where allowed, excluded from dumps) holds
// private-key numbers. Called by main() before any credential is loaded.
#pragma once

#include <string>

namespace exo {

// No core file, no ptrace attach by the same uid, /proc/PID owned by root.
// Call again after a change of uid: the kernel resets dumpability then.
// False with a reason when the kernel refused (RLIMIT_CORE may be refused
// under a seccomp filter; the unit's LimitCORE=0 then does that part).
bool harden_no_dumps(std::string &error);

// Start OpenSSL's secure heap for private keys; false when it could not.
bool harden_secure_heap(std::string &error);

// True when the process is non-dumpable and its core limit is zero.
bool harden_is_dumpless();

} // namespace exo
