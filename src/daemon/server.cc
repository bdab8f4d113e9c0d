// server.cc: exoauthd's event loop (see server.hh). One thread, epoll,
// level-triggered, non-blocking sockets. Every accepted peer is checked
// with SO_PEERCRED before a byte is read (sockets.cc, policy.cc); every
// line is bounded; buffered requests run in fair turns from a ready queue;
// a peer that sends garbage gets an ERROR or is disconnected, and others
// never notice. The commands themselves are in handlers.cc.
#include "server.hh"

#include "clock.hh"
#include "log.hh"
#include "registry.hh"
#include "lograte.hh"
#include "secret.hh"
#include "sockets.hh"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace exo {

namespace {
constexpr int MAX_IN_FLIGHT = 64;          // requests per connection
constexpr int FAIR_LINES = 16;             // lines one connection may run per turn
constexpr size_t MAX_OUT = 1024 * 1024;    // unread answers before we drop the peer
constexpr double TICK_INTERVAL = 0.2;      // seconds between broker ticks
constexpr double LOG_INTERVAL = 60.0;      // seconds per log summary of one kind
constexpr int LOG_BURST = 5;               // lines of one kind logged per interval
constexpr size_t LOG_KINDS = 256;          // kinds counted apart

// Add fd to epoll with events.
bool ep_add(int epfd, int fd, uint32_t events)
{
    struct epoll_event ev = {};
    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

} // namespace

Server::Server(Broker &broker, Validator &validator, Workers &workers)
    : broker_(broker), validator_(validator), workers_(workers), handlers_(broker, validator, policy_, *this),
      log_limit_(LOG_INTERVAL, LOG_BURST, LOG_KINDS)
{
}

// STATUS and METRICS figures of the event loop.
ServerFigures Server::figures() const
{
    return ServerFigures{mono_now() - started_, conns_.size(), requests_, per_uid_};
}

// Close every socket and remove the socket files we created.
Server::~Server()
{
    for (auto &[fd, c] : conns_)
        close(fd);
    for (int fd : listeners_)
        close(fd);
    for (const auto &p : paths_)
        unlink(p.c_str());
    if (epfd_ >= 0)
        close(epfd_);
    if (sigfd_ >= 0)
        close(sigfd_);
}

// Bind every configured socket; optional ones are skipped if their
// directory is missing (Postfix not installed).
bool Server::bind_all(const Config &cfg, std::string &error)
{
    for (const ListenConfig &l : cfg.listens) {
        if (l.optional && !parent_exists(l.path)) {
            log_info("listen %s: %s does not exist; skipped", l.name.c_str(), l.path.c_str());
            continue;
        }
        int fd = bind_listen(l, error);
        if (fd < 0)
            return false;
        listeners_.push_back(fd);
        paths_.push_back(l.path);
        log_info("listening on %s", l.path.c_str());
    }
    if (listeners_.empty()) {
        error = "no socket to listen on";
        return false;
    }
    return bind_metrics(cfg, error);
}

// The [metrics] listener, when configured.
bool Server::bind_metrics(const Config &cfg, std::string &error)
{
    if (!cfg.metrics.enabled)
        return true;
    http_ = std::make_unique<HttpMetrics>(
        [this] { return render_metrics(daemon_metrics(), broker_.figures(), validator_, figures()); });
    if (!http_->bind(cfg.metrics, error))
        return false;
    tell_metrics(cfg);
    return true;
}

// Say where metrics are served and to whom; a changed [metrics] waits for
// a restart (the listener was bound as root, before the privilege drop).
void Server::tell_metrics(const Config &cfg)
{
    if (http_)
        log_warning("metrics served at %s: anyone who can connect there may read them", http_->where().c_str());
    if (http_ ? !http_->same_address(cfg.metrics) : cfg.metrics.enabled)
        log_warning("[metrics] changed: the metrics listener changes at the next restart, not on reload");
}

// Take the allow-list and limits from a (re)loaded configuration.
void Server::configure(const Config &cfg, Policy &&policy)
{
    policy_ = std::move(policy);
    for (const auto &line : policy_.describe())
        log_info("rights: %s", line.c_str());
    max_clients_ = cfg.max_clients;
    max_per_uid_ = cfg.max_clients_per_uid ? cfg.max_clients_per_uid : std::max(1, cfg.max_clients / 2);
    idle_timeout_ = cfg.idle_timeout;
    if (!listeners_.empty())  // a reload: at start, bind_all tells
        tell_metrics(cfg);
    recheck_peers();
}

// Connections this uid holds now (kept by accept and close_conn, so an
// accept costs a lookup, not a walk over every connection).
int Server::conns_of(uid_t uid) const
{
    auto it = per_uid_.find(uid);
    return it == per_uid_.end() ? 0 : it->second;
}

// Why a new peer is turned away, or nullptr to accept it. Root is not
// capped per uid (it administers the daemon); every other uid is.
const char *Server::refusal_for(const PeerCred &p, bool known) const
{
    if (!known || !policy_.admits(p))
        return "not allowed";
    if ((int)conns_.size() >= max_clients_)
        return "too many connections";
    if (p.uid != 0 && conns_of(p.uid) >= max_per_uid_)
        return "too many connections from this user";
    return nullptr;
}

// Accept every pending connection on a listener.
void Server::accept_on(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        PeerCred peer;
        std::string who;
        bool known = read_peer(fd, peer, who);
        if (const char *refusal = refusal_for(peer, known)) {
            refuse_peer(fd, peer, who, refusal);
            continue;
        }
        auto c = std::make_shared<Connection>();
        c->fd = fd;
        c->rights = policy_.rights(peer);
        c->peer = std::move(peer);
        c->who = who;
        c->last_request = mono_now();
        conns_[fd] = c;
        per_uid_[c->peer.uid]++;
        daemon_metrics().count_connection(c->peer.uid);
        ep_add(epfd_, fd, EPOLLIN);
        send(*c, proto::format_version());
        log_debug("connection from %s", who.c_str());
    }
}

// Tell a turned-away peer why, close it, and log it (rate limited per uid).
void Server::refuse_peer(int fd, const PeerCred &p, const std::string &who, const char *reason)
{
    daemon_metrics().count_peer_refusal(reason);
    if (log_allowed("refused connections from uid=" + std::to_string(p.uid)))
        log_warning("refused connection from %s: %s", who.c_str(), reason);
    std::string line = proto::format_line("*", "ERROR", {{"reason", reason}});
    (void)!::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

// Read what the peer sent, then handle its lines in its turn.
void Server::on_readable(const std::shared_ptr<Connection> &c)
{
    char buf[65536];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(*c);
        return;
    }
    if (n > 0) {
        c->in.append(buf, (size_t)n);
        run_lines(c);
    }
    wipe(buf, n > 0 ? (size_t)n : 0);
}

// Handle up to FAIR_LINES buffered lines, each to its end, and never from
// inside another request's answer: a request answered at once (a cached
// refusal, say) returns here, so a burst of them costs a loop, not stack.
// A connection with lines left goes to the back of the ready queue, and
// is not read from until its backlog is gone.
void Server::run_lines(const std::shared_ptr<Connection> &c)
{
    std::string line;
    line.reserve(proto::MAX_LINE);  // one allocation: no freed copy of a token behind it
    int done = 0;
    while (!c->closed && c->in_flight < MAX_IN_FLIGHT && done < FAIR_LINES) {
        proto::LineBuffer::Next next = c->in.next(line);
        if (next == proto::LineBuffer::Next::NeedMore)
            break;
        if (next != proto::LineBuffer::Next::Line) {
            bad_input(*c, next == proto::LineBuffer::Next::TooLong ? "line too long" : "NUL byte");
            break;
        }
        c->last_request = mono_now();
        handle_line(c, line);
        done++;
    }
    wipe(line);
    if (done == FAIR_LINES && !c->closed && c->in_flight < MAX_IN_FLIGHT)
        schedule(c);
    update_events(*c);
}

// Disconnect a peer that broke the framing, saying why.
void Server::bad_input(Connection &c, const char *why)
{
    send(c, proto::format_line("*", "ERROR", {{"reason", why}}));
    if (log_allowed("bad input from uid=" + std::to_string(c.peer.uid)))
        log_warning("%s: %s; disconnected", c.who.c_str(), why);
    close_conn(c);
}

// Put a connection with buffered lines in the ready queue (once).
void Server::schedule(const std::shared_ptr<Connection> &c)
{
    if (c->queued || c->closed)
        return;
    c->queued = true;
    ready_.push_back(c);
}

// One turn for every connection that was ready when the turn began.
void Server::run_ready()
{
    std::deque<std::weak_ptr<Connection>> turn;
    turn.swap(ready_);
    for (auto &w : turn) {
        auto c = w.lock();
        if (!c || c->closed)
            continue;
        c->queued = false;
        run_lines(c);
    }
}

// A request has been answered: its connection may go on with the lines
// it still has buffered, in its next turn.
void Server::finish_request(const std::shared_ptr<Connection> &c)
{
    c->in_flight--;
    if (c->closed)
        return;
    if (c->in.buffered() > 0)
        schedule(c);
    update_events(*c);
}

// True when a log line of this kind may be written now (see lograte.hh).
bool Server::log_allowed(const std::string &kind)
{
    return log_limit_.allow(kind, mono_now());
}

// Summaries of what the rate limit held back in intervals ended by now.
void Server::flush_log_summaries(double now)
{
    log_limit_.flush(now, [](const std::string &kind, uint64_t n) {
        log_warning("%llu more %s in the last %.0f s (not logged one by one)", (unsigned long long)n,
                    kind.c_str(), LOG_INTERVAL);
    });
}

// One line: the VERSION greeting first, then requests.
void Server::handle_line(const std::shared_ptr<Connection> &c, const std::string &line)
{
    if (!c->got_version) {
        int major = 0, minor = 0;
        const char *why = !proto::parse_version(line, major, minor) ? "expected VERSION"
                          : major != proto::VERSION_MAJOR           ? "unsupported protocol version"
                                                                    : nullptr;
        if (why) {
            send(*c, proto::format_line("*", "ERROR", {{"reason", why}}));
            close_conn(*c);
        }
        c->got_version = true;
        return;
    }
    proto::Request req;
    std::string error;
    proto::Parse p = proto::parse_request(line, req, error);
    requests_++;
    if (p == proto::Parse::Fatal) {
        send(*c, proto::format_line("*", "ERROR", {{"reason", error}}));
        if (log_allowed("bad input from uid=" + std::to_string(c->peer.uid)))
            log_warning("%s: %s; disconnected", c->who.c_str(), error.c_str());
        close_conn(*c);
        return;
    }
    if (p == proto::Parse::Error) {
        send(*c, proto::format_line(req.id, "ERROR", {{"reason", error}}));
        return;
    }
    handlers_.dispatch(c, req);
    for (auto &f : req.args)  // tokens pass through here: leave no copy behind
        wipe(f.second);
}

// Queue a line; write at once when nothing is pending. Sent bytes are
// wiped, since answers carry tokens.
void Server::send(Connection &c, const std::string &line)
{
    if (c.closed)
        return;
    c.out.append(line);
    if (c.out.size() > MAX_OUT) {
        if (log_allowed("slow readers uid=" + std::to_string(c.peer.uid)))
            log_warning("%s: does not read its answers; disconnected", c.who.c_str());
        close_conn(c);
        return;
    }
    if (!c.want_write) {
        ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            c.out.consume((size_t)n);
        if (!c.out.empty())
            update_events(c);
    }
}

// Flush queued answers when the socket can take them.
void Server::on_writable(const std::shared_ptr<Connection> &c)
{
    ssize_t n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        close_conn(*c);
        return;
    }
    if (n > 0)
        c->out.consume((size_t)n);
    update_events(*c);
}

// Watch for input unless too many requests are in flight; for output
// while answers are queued.
void Server::update_events(Connection &c)
{
    if (c.closed)
        return;
    bool reading = c.in_flight < MAX_IN_FLIGHT && !c.queued;
    bool writing = !c.out.empty();
    if (reading == c.reading && writing == c.want_write)
        return;
    c.reading = reading;
    c.want_write = writing;
    struct epoll_event ev = {};
    ev.events = (reading ? (uint32_t)EPOLLIN : 0u) | (writing ? (uint32_t)EPOLLOUT : 0u);
    ev.data.fd = c.fd;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

// Close a connection; callbacks still pending see `closed` and do nothing.
void Server::close_conn(Connection &c)
{
    if (c.closed)
        return;
    if (!c.out.empty())
        (void)!::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    c.out.wipe();
    c.in.wipe();
    c.closed = true;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    int fd = c.fd;
    c.fd = -1;
    if (--per_uid_[c.peer.uid] <= 0)
        per_uid_.erase(c.peer.uid);
    conns_.erase(fd);
}

// Drop connections with nothing in flight whose last complete request is
// idle_timeout old: bytes that never make a line do not keep one open.
void Server::expire_idle()
{
    double now = mono_now();
    std::vector<std::shared_ptr<Connection>> idle;
    for (auto &[fd, c] : conns_)
        if (c->in_flight == 0 && now - c->last_request > idle_timeout_)
            idle.push_back(c);
    for (auto &c : idle) {
        if (c->in.buffered() > 0 && log_allowed("incomplete requests timed out uid=" + std::to_string(c->peer.uid)))
            log_warning("%s: no complete request for %d s; disconnected", c->who.c_str(), idle_timeout_);
        close_conn(*c);
    }
}

// After a reload: drop the connections of peers the new policy no longer
// admits; the others get their new rights.
void Server::recheck_peers()
{
    std::vector<std::shared_ptr<Connection>> gone;
    for (auto &[fd, c] : conns_) {
        if (!policy_.admits(c->peer))
            gone.push_back(c);
        c->rights = policy_.rights(c->peer);
    }
    for (auto &c : gone) {
        log_warning("%s: no longer allowed after reload; disconnected", c->who.c_str());
        send(*c, proto::format_line("*", "ERROR", {{"reason", "not allowed"}}));
        close_conn(*c);
    }
}

// The event loop.
bool Server::run(std::function<void()> reload, std::string &error)
{
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigfd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (epfd_ < 0 || sigfd_ < 0 || !ep_add(epfd_, sigfd_, EPOLLIN) ||
        !ep_add(epfd_, workers_.event_fd(), EPOLLIN)) {
        error = std::string("event loop setup: ") + strerror(errno);
        return false;
    }
    for (int fd : listeners_)
        ep_add(epfd_, fd, EPOLLIN);
    if (http_ && !http_->attach(epfd_)) {
        error = std::string("metrics listener: ") + strerror(errno);
        return false;
    }
    running_ = true;
    started_ = mono_now();
    daemon_metrics().start_time = (double)(int64_t)wall_now();
    double last_tick = 0, last_idle = started_;
    struct epoll_event evs[64];
    while (running_) {
        double now = mono_now();
        if (now - last_tick >= TICK_INTERVAL) {
            broker_.tick();
            validator_.tick();
            if (on_tick_)
                on_tick_();
            last_tick = now;
        }
        if (now - last_idle >= 1.0) {
            expire_idle();
            if (http_)
                http_->expire(now);
            flush_log_summaries(now);
            last_idle = now;
        }
        run_ready();
        int n = epoll_wait(epfd_, evs, 64, ready_.empty() ? (int)(TICK_INTERVAL * 1000) : 0);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sigfd_) {
                struct signalfd_siginfo si;
                while (read(sigfd_, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP)
                        reload();
                    else
                        running_ = false;
                }
            } else if (fd == workers_.event_fd()) {
                workers_.run_completions();
            } else if (std::find(listeners_.begin(), listeners_.end(), fd) != listeners_.end()) {
                accept_on(fd);
            } else if (http_ && http_->owns(fd)) {
                http_->on_event(fd, evs[i].events);
            } else if (auto it = conns_.find(fd); it != conns_.end()) {
                auto c = it->second;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(c);
                if (!c->closed && (evs[i].events & EPOLLOUT))
                    on_writable(c);
            }
        }
    }
    flush_log_summaries(HUGE_VAL);  // what was held back is still told
    return true;
}

} // namespace exo
