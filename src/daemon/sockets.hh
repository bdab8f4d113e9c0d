// sockets.hh: the listening UNIX sockets of exoauthd and who is at the
// other end of an accepted one. Binding runs as root before the privilege
// drop; a stale socket file is replaced only when no daemon answers on it.
// Used by server.cc.
#pragma once

#include "config.hh"
#include "policy.hh"

#include <string>

namespace exo {

// Create, chown and chmod one listening socket; -1 with a reason.
int bind_listen(const ListenConfig &l, std::string &error);

// True when the directory that would hold path exists.
bool parent_exists(const std::string &path);

// SO_PEERCRED and SO_PEERGROUPS of an accepted socket, and "pid= uid= gid="
// for messages; false if the kernel does not say.
bool read_peer(int fd, PeerCred &p, std::string &who);

} // namespace exo
