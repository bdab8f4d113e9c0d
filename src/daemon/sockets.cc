// sockets.cc: listening sockets and peer credentials (see sockets.hh).
#include "sockets.hh"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace exo {

namespace {

// Remove a stale socket file; refuse if a live daemon answers on it.
bool clear_stale_socket(const std::string &path, std::string &error)
{
    struct stat st;
    if (lstat(path.c_str(), &st) < 0)
        return true;
    if (!S_ISSOCK(st.st_mode)) {
        error = path + ": exists and is not a socket";
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path.c_str(), path.size());
    bool live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (live) {
        error = path + ": another exoauthd is listening there";
        return false;
    }
    unlink(path.c_str());
    return true;
}

// Give the socket file its owner and group (lchown: a symlink put in its
// place is changed itself, never what it points to; the mode was set by
// bind, so no chmod follows a path another user could swap).
bool set_socket_owner(const ListenConfig &l, std::string &error)
{
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (!l.owner.empty() && !lookup_uid(l.owner, uid)) {
        error = "listen " + l.name + ": unknown owner " + l.owner;
        return false;
    }
    if (!l.group.empty() && !lookup_gid(l.group, gid)) {
        error = "listen " + l.name + ": unknown group " + l.group;
        return false;
    }
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && lchown(l.path.c_str(), uid, gid) < 0) {
        error = "chown " + l.path + ": " + strerror(errno);
        return false;
    }
    return true;
}

} // namespace

// Create one listening socket.
int bind_listen(const ListenConfig &l, std::string &error)
{
    if (l.path.size() >= sizeof(sockaddr_un::sun_path)) {
        error = l.path + ": path too long for a UNIX socket";
        return -1;
    }
    if (!clear_stale_socket(l.path, error))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, l.path.c_str(), l.path.size());
    mode_t old = umask(~l.mode & 0777);  // the socket is born with its mode
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    umask(old);
    if (!ok || listen(fd, SOMAXCONN) < 0) {
        error = "bind " + l.path + ": " + strerror(errno);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!set_socket_owner(l, error)) {
        close(fd);
        return -1;
    }
    return fd;
}

// True when the directory that would hold path exists.
bool parent_exists(const std::string &path)
{
    std::string dir = path.substr(0, path.rfind('/'));
    struct stat st;
    return stat(dir.empty() ? "/" : dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// SO_PEERCRED and SO_PEERGROUPS of an accepted socket; false if unknown.
bool read_peer(int fd, PeerCred &p, std::string &who)
{
    struct ucred cr = {};
    socklen_t len = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return false;
    p.pid = cr.pid;
    p.uid = cr.uid;
    p.gid = cr.gid;
    who = "pid=" + std::to_string(cr.pid) + " uid=" + std::to_string(cr.uid) +
          " gid=" + std::to_string(cr.gid);
    gid_t groups[256];
    len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
        p.groups.assign(groups, groups + len / sizeof(gid_t));
    return true;
}

} // namespace exo
