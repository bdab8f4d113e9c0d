// credfile.hh: the one rule for every file that decides what exoauthd does
// or holds one of its secrets (private key, secret files, refresh tokens,
// the configuration, mailbox_map and user_map, the state directory): no
// symlink, a regular file owned by root or exoauthd's user, not writable by
// group or others, no group/other bits at all for a secret, bounded size.
// Called by every loader of the daemon and exoauthctl (libexocore only).
#pragma once

#include "secret.hh"

#include <string>
#include <sys/types.h>

namespace exo {

// What a file holds: a secret (mode 0600 or stricter) or policy (others may
// read it, nobody but its owner may change it).
enum class CredKind { Secret, Policy };

// How one kind of file is checked; what names the setting in messages.
struct CredRule {
    const char *what;
    CredKind kind;
    size_t max; // bytes; larger files are refused
};

constexpr size_t CRED_MAX = 64 * 1024;

// Besides root and the effective uid, allow user (exoauthd's "user =", a
// name or number) to own credential files; "" allows nobody more. Set once
// at start-up, before threads, by exoauthd and exoauthctl.
bool cred_set_owner(const std::string &user, std::string &error);

// Open path without following a symlink, check it by the rule and read it
// into out; every buffer is wiped on every path. False with an error that
// names the file and says what to do.
bool cred_read(const std::string &path, const CredRule &rule, Secret &out, std::string &error);

// cred_read without the owner check: the owner is returned for a caller
// (the configuration) that learns the allowed user from the file itself.
bool cred_read_owned(const std::string &path, const CredRule &rule, Secret &out, uid_t &owner,
                     std::string &error);

// Owner of path may be root, the effective uid, the set owner or user.
bool cred_owner_ok(const std::string &path, uid_t owner, const std::string &user, std::string &error);

// A directory exoauthd writes secrets into: a directory owned by root or
// exoauthd's user, not writable by group or others.
bool cred_check_dir(const std::string &path, const char *what, std::string &error);

// The [alerts] command's program: a regular file (no symlink), executable,
// owned by root, the effective uid or user, not writable by group or others.
bool cred_check_program(const std::string &path, const std::string &user, std::string &error);

// Read a secret (client secret) file: the rule for secrets, the value on
// one line. False with a reason.
bool read_secret_file(const std::string &path, Secret &out, std::string &error);

} // namespace exo
