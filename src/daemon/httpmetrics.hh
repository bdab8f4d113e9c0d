// httpmetrics.hh: exoauthd's optional metrics listener ([metrics] in
// exoauthd.conf): GET /metrics over HTTP on a loopback address or a UNIX
// socket, on the server's epoll loop. One request per connection, then
// close; every connection is bounded in bytes (HTTP_MAX_HEAD), time
// (HTTP_DEADLINE s) and number (HTTP_MAX_CONNS), so a slow or hostile
// client costs a few file descriptors and never blocks the loop. Off
// unless configured: whoever can connect there reads the figures.
#pragma once

#include "config.hh"
#include "httphead.hh"

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace exo {

constexpr int HTTP_MAX_CONNS = 16;        // HTTP connections at once; more are closed at once
constexpr double HTTP_DEADLINE = 10.0;    // seconds from accept to the last byte of the answer

class HttpMetrics {
public:
    // render: the exposition (the METRICS command's text).
    explicit HttpMetrics(std::function<std::string()> render) : render_(std::move(render)) {}
    ~HttpMetrics();
    HttpMetrics(const HttpMetrics &) = delete;
    HttpMetrics &operator=(const HttpMetrics &) = delete;
    // Create the listener (as root, before the privilege drop).
    bool bind(const MetricsConfig &m, std::string &error);
    // "http://127.0.0.1:9464/metrics" or the socket path, for the log.
    const std::string &where() const { return where_; }
    // True when m names the address already bound.
    bool same_address(const MetricsConfig &m) const;
    // Watch the listener on the event loop's epoll.
    bool attach(int epfd);
    // True for the listener and this listener's connections.
    bool owns(int fd) const { return fd == lfd_ || conns_.count(fd) > 0; }
    // An epoll event on an owned fd.
    void on_event(int fd, uint32_t events);
    // Close connections past their deadline.
    void expire(double now);

private:
    struct Conn {
        std::string in;
        std::string out;
        size_t sent = 0;
        double deadline = 0;
    };
    void accept_all();
    void on_readable(int fd, Conn &c);
    void answer(int fd, Conn &c, HttpHead h);
    void on_writable(int fd, Conn &c);
    void close_conn(int fd);

    std::function<std::string()> render_;
    MetricsConfig cfg_;
    std::string where_;
    int lfd_ = -1;
    int epfd_ = -1;
    std::map<int, Conn> conns_;
};

} // namespace exo
