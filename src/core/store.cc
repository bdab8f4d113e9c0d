// store.cc: the refresh-token store (see store.hh). Each delegated account's
// refresh token lives in <state_dir>/<account>.rt, mode 0600, as a magic
// line and the token. Writes are atomic and durable: temp file, fsync,
// rename, fsync of the directory. Reads go through credfile.hh's rule for
// secrets (no symlink, owner, 0600, size), then the contents are checked.
#include "store.hh"

#include "credfile.hh"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace exo {

// See store.hh.
bool write_all(int fd, const std::string &buf)
{
    size_t off = 0;
    while (off < buf.size()) {
        ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += (size_t)n;
    }
    return true;
}

namespace {
constexpr const char MAGIC[] = "exoauth-refresh-token 1\n";
constexpr size_t MAX_TOKEN = 16384;
constexpr const char TMP_PREFIX[] = ".tmp-";

// strerror(errno) with a prefix naming what failed.
std::string sys_error(const std::string &what)
{
    return what + ": " + strerror(errno);
}

// Closes a descriptor when it goes out of scope.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() { if (fd >= 0) ::close(fd); }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
};

// A refresh token is printable ASCII without spaces, bounded in size.
bool token_ok(const std::string &t)
{
    if (t.empty() || t.size() > MAX_TOKEN)
        return false;
    for (unsigned char c : t)
        if (c <= 0x20 || c >= 0x7f)
            return false;
    return true;
}

// fsync the directory so a rename in it is durable.
bool sync_dir(const std::string &dir, std::string &error)
{
    Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.fd < 0 || fsync(d.fd) < 0) {
        error = sys_error("fsync " + dir);
        return false;
    }
    return true;
}
} // namespace

// The file that holds account's refresh token.
std::string TokenStore::path_of(const std::string &account) const
{
    return dir_ + "/" + account + ".rt";
}

// The stored file's mtime: each save writes a new file, so it is the time
// of the last sign-in or rotation.
int64_t TokenStore::saved_at(const std::string &account) const
{
    struct stat st;
    if (lstat(path_of(account).c_str(), &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    return (int64_t)st.st_mtime;
}

// Check the directory and sweep temporary files left by a crash.
bool TokenStore::open(std::string &error)
{
    if (!cred_check_dir(dir_, "state_dir", error))
        return false;
    std::unique_ptr<DIR, int (*)(DIR *)> d(opendir(dir_.c_str()), closedir);
    if (!d) {
        error = sys_error("opendir " + dir_);
        return false;
    }
    while (struct dirent *e = readdir(d.get()))
        if (strncmp(e->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0)
            (void)unlinkat(dirfd(d.get()), e->d_name, 0);
    return true;
}

// Read and check the stored token of account.
bool TokenStore::load(const std::string &account, Secret &token, std::string &error) const
{
    static const CredRule rule{"refresh token", CredKind::Secret, sizeof(MAGIC) + MAX_TOKEN + 1};
    std::string path = path_of(account);
    struct stat st;
    if (lstat(path.c_str(), &st) < 0 && errno == ENOENT) {
        error.clear();
        return false;
    }
    Secret raw;
    if (!cred_read(path, rule, raw, error))
        return false;
    const std::string &s = raw.str();
    size_t mlen = sizeof(MAGIC) - 1;
    if (s.compare(0, mlen, MAGIC) != 0 || s.size() < mlen + 2 || s.back() != '\n') {
        error = path + ": not an exoauth refresh-token file";
        return false;
    }
    Secret t(s.substr(mlen, s.size() - mlen - 1));
    if (!token_ok(t.str())) {
        error = path + ": holds a malformed token";
        return false;
    }
    token = std::move(t);
    return true;
}

// Replace account's token: temp file, fsync, rename, fsync directory.
bool TokenStore::save(const std::string &account, const Secret &token, std::string &error) const
{
    if (!token_ok(token.str())) {
        error = "refusing to store a malformed refresh token";
        return false;
    }
    std::string tmpl = dir_ + "/" + TMP_PREFIX + account + ".XXXXXX";
    Fd f(mkostemp(&tmpl[0], O_CLOEXEC));
    if (f.fd < 0) {
        error = sys_error("create " + tmpl);
        return false;
    }
    Secret content(std::string(MAGIC) + token.str() + "\n");
    bool ok = fchmod(f.fd, 0600) == 0 && write_all(f.fd, content.str()) && fsync(f.fd) == 0;
    if (!ok) {
        error = sys_error("write " + tmpl);
        (void)unlink(tmpl.c_str());
        return false;
    }
    std::string path = path_of(account);
    if (rename(tmpl.c_str(), path.c_str()) < 0) {
        error = sys_error("rename " + tmpl + " to " + path);
        (void)unlink(tmpl.c_str());
        return false;
    }
    return sync_dir(dir_, error);
}

// Forget account's refresh token (exoauthctl logout, or a revoked grant).
bool TokenStore::remove(const std::string &account, std::string &error) const
{
    std::string path = path_of(account);
    if (unlink(path.c_str()) < 0 && errno != ENOENT) {
        error = sys_error("unlink " + path);
        return false;
    }
    return sync_dir(dir_, error);
}

} // namespace exo
