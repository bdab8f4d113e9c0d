// httpmetrics.cc: the metrics listener (see httpmetrics.hh). A connection
// is read until its head is complete (httphead.cc judges it), answered
// with one response and closed; a head too large, malformed or too slow
// ends it. Nothing read here is ever logged: it is untrusted.
#include "httpmetrics.hh"

#include "clock.hh"
#include "log.hh"
#include "registry.hh"
#include "sockets.hh"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace exo {

namespace {

// A TCP listener on a loopback address; -1 with a reason.
int bind_tcp(const MetricsConfig &m, std::string &error)
{
    struct sockaddr_storage ss = {};
    socklen_t len;
    bool v6 = m.host.find(':') != std::string::npos;
    if (v6) {
        auto *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)m.port);
        inet_pton(AF_INET6, m.host.c_str(), &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        auto *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)m.port);
        inet_pton(AF_INET, m.host.c_str(), &s4->sin_addr);
        len = sizeof(*s4);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        ::bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
        error = "metrics: listen " + m.host + ":" + std::to_string(m.port) + ": " + strerror(errno);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

// The whole response to a verdict: status, headers and (for 200) body.
std::string response(HttpHead h, const std::string &body)
{
    std::string out = std::string("HTTP/1.1 ") + http_status_line(h) + "\r\n";
    if (h == HttpHead::BadMethod)
        out += "Allow: GET\r\n";
    out += "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    return out + body;
}

} // namespace

// Close the listener and every connection; remove the socket file.
HttpMetrics::~HttpMetrics()
{
    for (auto &[fd, c] : conns_)
        close(fd);
    if (lfd_ >= 0)
        close(lfd_);
    if (!cfg_.path.empty())
        unlink(cfg_.path.c_str());
}

// Create the listener.
bool HttpMetrics::bind(const MetricsConfig &m, std::string &error)
{
    if (m.path.empty()) {
        lfd_ = bind_tcp(m, error);
        std::string host = m.host.find(':') != std::string::npos ? "[" + m.host + "]" : m.host;
        where_ = "http://" + host + ":" + std::to_string(m.port) + "/metrics";
    } else {
        ListenConfig l;
        l.name = "metrics";
        l.path = m.path;
        l.group = m.group;
        l.mode = m.mode;
        lfd_ = bind_listen(l, error);
        where_ = m.path + " (GET /metrics)";
    }
    if (lfd_ < 0)
        return false;
    cfg_ = m;
    return true;
}

// True when m names the address already bound.
bool HttpMetrics::same_address(const MetricsConfig &m) const
{
    return m.enabled && m.host == cfg_.host && m.port == cfg_.port && m.path == cfg_.path &&
           m.group == cfg_.group && m.mode == cfg_.mode;
}

// Watch the listener.
bool HttpMetrics::attach(int epfd)
{
    epfd_ = epfd;
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = lfd_;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, lfd_, &ev) == 0;
}

// Accept what is pending, a bounded batch per turn (a flood of connects
// never holds the loop); beyond HTTP_MAX_CONNS, close at once.
void HttpMetrics::accept_all()
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if ((int)conns_.size() >= HTTP_MAX_CONNS) {
            daemon_metrics().count_peer_refusal("too many connections");
            close(fd);
            continue;
        }
        struct epoll_event ev = {};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        conns_[fd].deadline = mono_now() + HTTP_DEADLINE;
    }
}

// An event on the listener or a connection.
void HttpMetrics::on_event(int fd, uint32_t events)
{
    if (fd == lfd_) {
        accept_all();
        return;
    }
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    if (it->second.out.empty() && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        on_readable(fd, it->second);
    else if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        on_writable(fd, it->second);
}

// Read up to the head's bound; answer once it is judged.
void HttpMetrics::on_readable(int fd, Conn &c)
{
    char buf[4096];
    size_t room = HTTP_MAX_HEAD + 1 - c.in.size();
    ssize_t n = read(fd, buf, room < sizeof(buf) ? room : sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(fd);
        return;
    }
    if (n < 0)
        return;
    c.in.append(buf, (size_t)n);
    HttpHead h = parse_http_head(c.in);
    if (h != HttpHead::NeedMore)
        answer(fd, c, h);
}

// Queue the response and wait for the socket to take it.
void HttpMetrics::answer(int fd, Conn &c, HttpHead h)
{
    c.out = response(h, h == HttpHead::Metrics ? render_() : std::string());
    c.in.clear();
    struct epoll_event ev = {};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
    on_writable(fd, c);
}

// Send what the socket takes; close once all is sent.
void HttpMetrics::on_writable(int fd, Conn &c)
{
    ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        close_conn(fd);
        return;
    }
    if (n > 0)
        c.sent += (size_t)n;
    if (c.sent >= c.out.size())
        close_conn(fd);
}

// Forget a connection.
void HttpMetrics::close_conn(int fd)
{
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(fd);
}

// Close connections past their deadline.
void HttpMetrics::expire(double now)
{
    std::vector<int> late;
    for (const auto &[fd, c] : conns_)
        if (now >= c.deadline)
            late.push_back(fd);
    for (int fd : late)
        close_conn(fd);
}

} // namespace exo
