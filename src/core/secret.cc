// secret.cc: wiping, constant-time comparison and the short hash that
// names a secret in logs (see secret.hh). Inputs are trusted.
#include "secret.hh"

#include "crypto.hh"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

namespace {
constexpr size_t MAX_SECRET_FILE = 4096;
} // namespace

// Read a client secret file: bounded, not readable by others, one line.
bool read_secret_file(const std::string &path, Secret &out, std::string &error)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = "secret_file " + path + ": " + strerror(errno);
        return false;
    }
    struct stat st;
    std::string buf(MAX_SECRET_FILE + 1, '\0');
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && !(st.st_mode & (S_IROTH | S_IWOTH)))
        n = read(fd, &buf[0], buf.size());
    close(fd);
    if (n < 0 || (size_t)n > MAX_SECRET_FILE) {
        wipe(buf);
        error = "secret_file " + path + ": unreadable, too large, or readable by others (chmod 0600)";
        return false;
    }
    buf.resize((size_t)n);
    while (!buf.empty() && (buf.back() == '\n' || buf.back() == '\r'))
        buf.pop_back();
    if (buf.empty() || buf.find('\n') != std::string::npos) {
        error = "secret_file " + path + ": must hold the secret value on one line";
        return false;
    }
    out = Secret(std::move(buf));
    return true;
}

} // namespace exo
