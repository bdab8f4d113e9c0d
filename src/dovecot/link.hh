// link.hh: the Dovecot auth process's connection to exoauthd, driven by
// Dovecot's own ioloop so a lookup never blocks the auth process. One
// connection per process, requests pipelined by id, each with its own
// deadline; a lost connection fails what was in flight as temporary.
#pragma once

#include "protocol.hh"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct io;
struct timeout;

namespace exo::dovecot {

// What became of one request: an answer line, or why there was none.
struct Outcome {
    bool answered = false;     // resp is exoauthd's final answer
    proto::Response resp;
    std::string error;         // when !answered: unreachable, timeout...
};
using Done = std::function<void(const Outcome &)>;

class Link {
public:
    Link(std::string socket_path, unsigned timeout_ms)
        : path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}
    ~Link();
    Link(const Link &) = delete;
    Link &operator=(const Link &) = delete;

    // Send command with fields; done is called exactly once, later, from
    // the ioloop (never from inside call()).
    void call(const std::string &command, const proto::Fields &fields, Done done);
    // Fail everything in flight and close (auth process shutting down).
    void shutdown(const std::string &why);

    // ioloop callbacks (public for the C-style trampolines in link.cc).
    void on_readable();
    void on_writable();
    void on_deadline(const std::string &id);
    void on_deferred();

    struct Pending {
        Link *link = nullptr;
        std::string id;
        Done done;
        struct timeout *to = nullptr;
    };

private:
    bool connect(std::string &error);
    void close_fd();
    void flush();
    void handle_line(const std::string &line);
    void finish(const std::string &id, const Outcome &o);
    void fail_all(const std::string &why);
    void defer(Done done, Outcome o);

    std::string path_;
    unsigned timeout_ms_;
    int fd_ = -1;
    struct io *io_in_ = nullptr;
    struct io *io_out_ = nullptr;
    bool greeted_ = false;
    proto::LineBuffer in_;
    std::string out_;
    uint64_t next_ = 0;
    std::map<std::string, std::unique_ptr<Pending>> pending_;
    // Failures found inside call() are reported on the next ioloop turn,
    // so a caller never sees its callback before call() returns.
    std::vector<std::pair<Done, Outcome>> deferred_;
    struct timeout *deferred_to_ = nullptr;
};

} // namespace exo::dovecot
