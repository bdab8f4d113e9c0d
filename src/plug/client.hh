// client.hh: a small blocking client of the exoauthd protocol, for
// exoauthctl, the benchmarks and tests (the plugins get their own in
// src/client). Every call is bounded by a deadline; the daemon's answers are
// parsed as untrusted input.
#pragma once

#include "protocol.hh"

#include <string>
#include <vector>

namespace exo {

class Client {
public:
    Client() = default;
    ~Client();
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    // Connect to the UNIX socket at path and exchange VERSION lines.
    bool connect(const std::string &path, int timeout_ms, std::string &error);
    // Send one request; id is chosen by the client.
    bool send(const proto::Request &req, std::string &error);
    // Read the next response line, waiting at most timeout_ms.
    bool receive(proto::Response &resp, int timeout_ms, std::string &error);
    // send + receive until the final answer for req.id (intermediate lines
    // such as ACCOUNT or PENDING are appended to extra when not null).
    bool call(const proto::Request &req, proto::Response &final_resp, int timeout_ms,
              std::string &error, std::vector<proto::Response> *extra = nullptr);
    int fd() const { return fd_; }
    void close();

private:
    bool read_line(std::string &line, int timeout_ms, std::string &error);
    int fd_ = -1;
    proto::LineBuffer in_;
};

// True for statuses that end a request: OK, FAIL, ERROR.
bool is_final_status(const std::string &status);

} // namespace exo
