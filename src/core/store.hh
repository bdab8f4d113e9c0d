// store.hh: the refresh-token store, one 0600 file per delegated account in
// the state directory. A new token is written to a temporary file, fsynced,
// renamed over the old one and the directory fsynced, so a crash at any
// moment leaves the old token or the new one, never neither and never half.
// Called by the broker (worker threads); file contents are checked on read.
#pragma once

#include "secret.hh"

#include <string>

namespace exo {

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
    std::string path_of(const std::string &account) const;

private:
    std::string dir_;
};

} // namespace exo
