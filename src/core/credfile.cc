// credfile.cc: the one rule for credential and policy files (see
// credfile.hh). open(O_NOFOLLOW|O_NONBLOCK), fstat, then type, owner, mode
// and size before a byte is read; reads are bounded and every buffer is
// wiped on every path. Paths are configuration; contents are not trusted.
#include "credfile.hh"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace exo {

namespace {
uid_t g_owner = (uid_t)-1; // exoauthd's user, when set
std::string g_owner_name;

// Closes a descriptor when it goes out of scope.
struct FdCloser {
    int fd;
    ~FdCloser()
    {
        if (fd >= 0)
            close(fd);
    }
};

// "what path: " as every message starts.
std::string prefix(const CredRule &rule, const std::string &path)
{
    return std::string(rule.what) + " " + path + ": ";
}

// uid of a user name or number; false if unknown.
bool lookup_user(const std::string &user, uid_t &uid, std::string &name)
{
    std::vector<char> buf(16384);
    struct passwd pw, *res = nullptr;
    bool numeric = !user.empty() && user.size() <= 9 && user.find_first_not_of("0123456789") == std::string::npos;
    if (numeric)
        getpwuid_r((uid_t)strtoul(user.c_str(), nullptr, 10), &pw, buf.data(), buf.size(), &res);
    else
        getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &res);
    if (numeric && !res) {
        uid = (uid_t)strtoul(user.c_str(), nullptr, 10);
        name = user;
        return true;
    }
    if (!res)
        return false;
    uid = res->pw_uid;
    name = res->pw_name;
    return true;
}

// Name of the user who should own credential files, for messages.
std::string owner_name()
{
    if (!g_owner_name.empty())
        return g_owner_name;
    uid_t uid;
    std::string name;
    return lookup_user(std::to_string(geteuid()), uid, name) ? name : "root";
}

// Root, the effective uid or the set owner.
bool owner_allowed(uid_t uid)
{
    return uid == 0 || uid == geteuid() || (g_owner != (uid_t)-1 && uid == g_owner);
}

// open(2) error, with the fix for a symlink or a missing file.
std::string open_error(const std::string &p, int e)
{
    if (e == ELOOP)
        return p + "is a symbolic link; set the path of the real file, or replace the link by the file";
    if (e == ENOENT)
        return p + "does not exist; create it or fix the path";
    return p + strerror(e);
}

// Regular file, mode and size by the rule (the owner is checked apart).
bool check_stat(const std::string &path, const struct stat &st, const CredRule &rule, std::string &error)
{
    std::string p = prefix(rule, path);
    bool secret = rule.kind == CredKind::Secret;
    if (!S_ISREG(st.st_mode))
        error = p + "not a regular file; point the setting at a plain file";
    else if (secret && (st.st_mode & 077))
        error = p + "readable or writable by group or others; chmod 600 " + path;
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        error = p + "writable by group or others; chmod go-w " + path;
    else if ((uint64_t)st.st_size > rule.max)
        error = p + "larger than " + std::to_string(rule.max) + " bytes; refusing to read it";
    else if (secret && st.st_size == 0)
        error = p + "is empty";
    else
        return true;
    return false;
}

// Read at most rule.max bytes of fd into out; wipes on every path.
bool read_bounded(int fd, const std::string &path, const CredRule &rule, Secret &out, std::string &error)
{
    std::string buf(rule.max + 1, '\0');
    size_t off = 0;
    while (off < buf.size()) {
        ssize_t n = read(fd, &buf[off], buf.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wipe(buf);
            error = prefix(rule, path) + strerror(errno);
            return false;
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    if (off > rule.max || (off == 0 && rule.kind == CredKind::Secret)) {
        wipe(buf);
        error = prefix(rule, path) + (off ? "grew larger than " + std::to_string(rule.max) + " bytes"
                                          : std::string("is empty"));
        return false;
    }
    wipe(&buf[off], buf.size() - off);
    buf.resize(off);
    out = Secret(std::move(buf));
    return true;
}
} // namespace

bool cred_set_owner(const std::string &user, std::string &error)
{
    if (user.empty()) {
        g_owner = (uid_t)-1;
        g_owner_name.clear();
        return true;
    }
    if (!lookup_user(user, g_owner, g_owner_name)) {
        error = "user " + user + " does not exist";
        return false;
    }
    return true;
}

bool cred_owner_ok(const std::string &path, uid_t owner, const std::string &user, std::string &error)
{
    uid_t uid;
    std::string name;
    if (owner_allowed(owner) || (!user.empty() && lookup_user(user, uid, name) && uid == owner))
        return true;
    std::string who = user.empty() ? owner_name() : user;
    error = path + ": owned by uid " + std::to_string(owner) + ", neither root nor " + who + "; chown " +
            who + " " + path + " (or chown root)";
    return false;
}

bool cred_read_owned(const std::string &path, const CredRule &rule, Secret &out, uid_t &owner,
                     std::string &error)
{
    FdCloser f{open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
    if (f.fd < 0) {
        error = open_error(prefix(rule, path), errno);
        return false;
    }
    struct stat st;
    if (fstat(f.fd, &st) != 0) {
        error = prefix(rule, path) + strerror(errno);
        return false;
    }
    owner = st.st_uid;
    return check_stat(path, st, rule, error) && read_bounded(f.fd, path, rule, out, error);
}

bool cred_read(const std::string &path, const CredRule &rule, Secret &out, std::string &error)
{
    uid_t owner;
    Secret s;
    if (!cred_read_owned(path, rule, s, owner, error))
        return false;
    if (!cred_owner_ok(path, owner, "", error)) {
        error = std::string(rule.what) + " " + error;
        return false;
    }
    out = std::move(s);
    return true;
}

bool cred_check_dir(const std::string &path, const char *what, std::string &error)
{
    struct stat st;
    std::string p = std::string(what) + " " + path + ": ";
    int e = stat(path.c_str(), &st) < 0 ? errno : 0;
    if (e)
        error = p + strerror(e) + "; mkdir -m 0700 " + path + " and chown it to " + owner_name();
    else if (!S_ISDIR(st.st_mode))
        error = p + "not a directory";
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        error = p + "writable by group or others; chmod 0700 " + path;
    else if (!cred_owner_ok(path, st.st_uid, "", error))
        error = std::string(what) + " " + error;
    else
        return true;
    return false;
}

// The alert command's program: the rule for policy files (no symlink, owner,
// not writable by group or others) without reading it, and executable.
bool cred_check_program(const std::string &path, const std::string &user, std::string &error)
{
    static const CredRule rule{"alerts command", CredKind::Policy, (size_t)1 << 30};
    FdCloser f{open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
    struct stat st;
    if (f.fd < 0 || fstat(f.fd, &st) != 0) {
        error = open_error(prefix(rule, path), errno);
        return false;
    }
    if (!check_stat(path, st, rule, error))
        return false;
    if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        error = prefix(rule, path) + "not executable; chmod 755 " + path;
        return false;
    }
    if (cred_owner_ok(path, st.st_uid, user, error))
        return true;
    error = std::string(rule.what) + " " + error;
    return false;
}

// Client secret: the rule for secrets, then one line.
bool read_secret_file(const std::string &path, Secret &out, std::string &error)
{
    static const CredRule rule{"secret_file", CredKind::Secret, CRED_MAX};
    Secret raw;
    if (!cred_read(path, rule, raw, error))
        return false;
    std::string_view v = raw.str();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
        v.remove_suffix(1);
    if (v.empty() || v.find_first_of("\r\n") != std::string_view::npos) {
        error = "secret_file " + path + ": must hold the secret value on one line";
        return false;
    }
    out = Secret(std::string(v));
    return true;
}

} // namespace exo
