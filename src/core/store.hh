// store.hh: the refresh-token store, one 0600 file per delegated account in
// the state directory. A new token is written to a temporary file, fsynced,
// renamed over the old one and the directory fsynced, so a crash at any
// moment leaves the old token or the new one, never neither and never half.
// Called by the broker (worker threads); file contents are checked on read.
#pragma once

#include "secret.hh"

#include <cstdint>
#include <string>

namespace exo {

// Write all of buf to fd, retrying short writes and EINTR (also for
// exoauthctl's atomic textfile).
bool write_all(int fd, const std::string &buf);

class TokenStore {
public:
    explicit TokenStore(std::string dir) : dir_(std::move(dir)) {}
    // Check the directory exists, is a directory, and is not group/world
    // writable; remove stale temporary files a crash may have left.
    bool open(std::string &error);
    // Load the refresh token of account; false and empty error when absent.
    bool load(const std::string &account, Secret &token, std::string &error) const;
    // Atomically replace the refresh token of account.
    bool save(const std::string &account, const Secret &token, std::string &error) const;
    bool remove(const std::string &account, std::string &error) const;
    // When account's refresh token was last written (unix seconds): the
    // last sign-in or rotation; 0 when there is none.
    int64_t saved_at(const std::string &account) const;
    std::string path_of(const std::string &account) const;

private:
    std::string dir_;
};

} // namespace exo
