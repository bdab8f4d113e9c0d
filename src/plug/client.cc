// client.cc: the blocking exoauthd protocol client (see client.hh) used by
// exoauthctl, tests and benchmarks. Every wait is bounded by poll() with a
// deadline; the daemon's lines are parsed as untrusted input.
#include "client.hh"

#include "secret.hh"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace exo {

namespace {
using Clock = std::chrono::steady_clock;

// Milliseconds left until deadline (0 when past).
int ms_left(Clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? (int)left.count() : 0;
}

// Wait for events on fd until deadline; false on timeout or error.
bool wait_fd(int fd, short events, Clock::time_point deadline, std::string &error)
{
    struct pollfd p = {fd, events, 0};
    for (;;) {
        int n = poll(&p, 1, ms_left(deadline));
        if (n > 0)
            return true;
        if (n == 0) {
            error = "timed out";
            return false;
        }
        if (errno != EINTR) {
            error = std::string("poll: ") + strerror(errno);
            return false;
        }
    }
}

// Write all of data before deadline.
bool write_all(int fd, const std::string &data, Clock::time_point deadline, std::string &error)
{
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            error = std::string("write: ") + strerror(errno);
            return false;
        }
        if (!wait_fd(fd, POLLOUT, deadline, error))
            return false;
    }
    return true;
}
} // namespace

Client::~Client() { close(); }

// Close the connection.
void Client::close()
{
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
    in_.wipe();
}

// Non-blocking connect with a deadline, then both VERSION lines.
bool Client::connect(const std::string &path, int timeout_ms, std::string &error)
{
    close();
    struct sockaddr_un sa = {};
    if (path.size() >= sizeof(sa.sun_path)) {
        error = "socket path too long";
        return false;
    }
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path.c_str(), path.size());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    if (fd_ < 0 || (::connect(fd_, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS &&
                    errno != EAGAIN)) {
        error = std::string("connect: ") + strerror(errno);
        close();
        return false;
    }
    if (!write_all(fd_, proto::format_version(), deadline, error)) {
        close();
        return false;
    }
    std::string line;
    int major = 0, minor = 0;
    if (!read_line(line, ms_left(deadline), error))
        return false;
    if (!proto::parse_version(line, major, minor) || major != proto::VERSION_MAJOR) {
        proto::Response r;
        std::string e2;
        const std::string *why = proto::parse_response(line, r, e2) ? r.get("reason") : nullptr;
        error = why ? "refused: " + *why : "not an exoauthd protocol v1 peer";
        close();
        return false;
    }
    return true;
}

// Read one line within timeout_ms.
bool Client::read_line(std::string &line, int timeout_ms, std::string &error)
{
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        switch (in_.next(line)) {
        case proto::LineBuffer::Next::Line: return true;
        case proto::LineBuffer::Next::TooLong: error = "answer line too long"; close(); return false;
        case proto::LineBuffer::Next::Binary: error = "NUL byte in answer"; close(); return false;
        case proto::LineBuffer::Next::NeedMore: break;
        }
        if (fd_ < 0 || !wait_fd(fd_, POLLIN, deadline, error))
            return false;
        char buf[16384];
        ssize_t n = ::read(fd_, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            error = n == 0 ? "exoauthd closed the connection" : std::string("read: ") + strerror(errno);
            close();
            return false;
        }
        if (n > 0)
            in_.append(buf, (size_t)n);
    }
}

// Send one request line.
bool Client::send(const proto::Request &req, std::string &error)
{
    if (fd_ < 0) {
        error = "not connected";
        return false;
    }
    auto deadline = Clock::now() + std::chrono::seconds(10);
    return write_all(fd_, proto::format_line(req.id, req.command, req.args), deadline, error);
}

// Read and parse the next answer line.
bool Client::receive(proto::Response &resp, int timeout_ms, std::string &error)
{
    std::string line;
    if (!read_line(line, timeout_ms, error))
        return false;
    bool ok = proto::parse_response(line, resp, error);
    wipe(line);
    return ok;
}

// send, then read until req's final answer (or a connection-level error).
bool Client::call(const proto::Request &req, proto::Response &final_resp, int timeout_ms,
                  std::string &error, std::vector<proto::Response> *extra)
{
    if (!send(req, error))
        return false;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        proto::Response r;
        if (!receive(r, ms_left(deadline), error))
            return false;
        if (r.id == "*") {
            const std::string *why = r.get("reason");
            error = "exoauthd: " + (why ? *why : r.status);
            return false;
        }
        if (r.id != req.id)
            continue;
        if (is_final_status(r.status)) {
            final_resp = std::move(r);
            return true;
        }
        if (extra)
            extra->push_back(std::move(r));
    }
}

// OK, FAIL and ERROR end a request.
bool is_final_status(const std::string &status)
{
    return status == "OK" || status == "FAIL" || status == "ERROR";
}

} // namespace exo
