// connection.hh: one client connection of exoauthd's socket server, and
// the Replier through which request handlers (handlers.cc) answer on it
// without knowing the event loop (server.cc), which implements it.
#pragma once

#include "policy.hh"
#include "protocol.hh"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace exo {

// One client connection.
struct Connection {
    int fd = -1;
    PeerCred peer;
    Rights rights;
    std::string who;
    proto::LineBuffer in;
    proto::OutBuffer out;
    bool got_version = false;
    bool closed = false;
    int in_flight = 0;
    bool queued = false;        // has buffered input waiting for its turn
    bool reading = true;
    bool want_write = false;
    double last_request = 0;    // monotonic time of the last complete line
};

// The server's figures for STATUS and METRICS.
struct ServerFigures {
    double uptime = 0;
    size_t connections = 0;
    uint64_t requests = 0;
    std::map<uid_t, int> per_uid;  // open connections by peer uid
};

// What a handler may ask of the event loop.
class Replier {
public:
    virtual ~Replier() = default;
    // Queue an answer line (wiped once sent).
    virtual void send(Connection &c, const std::string &line) = 0;
    // A request that went asynchronous (in_flight++) has been answered.
    virtual void finish_request(const std::shared_ptr<Connection> &c) = 0;
    // May a log line of this kind be written now (rate limit)?
    virtual bool log_allowed(const std::string &kind) = 0;
    virtual ServerFigures figures() const = 0;
};

} // namespace exo
