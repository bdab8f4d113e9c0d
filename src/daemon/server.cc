// server.cc: exoauthd's event loop (see server.hh). One thread, epoll,
// level-triggered, non-blocking sockets. Every accepted peer is checked
// with SO_PEERCRED before a byte is read; every line is bounded; a peer that
// sends garbage gets an ERROR or is disconnected, and others never notice.
#include "exoauth_config.h"

#include "server.hh"

#include "crypto.hh"
#include "log.hh"
#include "lograte.hh"
#include "secret.hh"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

// Monotonic seconds for timers.
double mono_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

// Add fd to epoll with events.
bool ep_add(int epfd, int fd, uint32_t events)
{
    struct epoll_event ev = {};
    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

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

// Give the socket file its owner, group and mode.
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
    if (chmod(l.path.c_str(), l.mode) < 0) {
        error = "chmod " + l.path + ": " + strerror(errno);
        return false;
    }
    return true;
}

// Create one listening socket.
int bind_one(const ListenConfig &l, std::string &error)
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
    mode_t old = umask(0177);
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
} // namespace

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

Server::Server(Broker &broker, Validator &validator, Workers &workers)
    : broker_(broker), validator_(validator), workers_(workers), log_limit_(LOG_INTERVAL, LOG_BURST, LOG_KINDS)
{
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
        int fd = bind_one(l, error);
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
    return true;
}

// Take the allow-list and limits from a (re)loaded configuration.
bool Server::configure(const Config &cfg, std::string &error)
{
    if (!policy_.configure(cfg, error))
        return false;
    for (const auto &line : policy_.describe())
        log_info("rights: %s", line.c_str());
    max_clients_ = cfg.max_clients;
    max_per_uid_ = cfg.max_clients_per_uid ? cfg.max_clients_per_uid : std::max(1, cfg.max_clients / 2);
    idle_timeout_ = cfg.idle_timeout;
    recheck_peers();
    return true;
}

// SO_PEERCRED and SO_PEERGROUPS of an accepted socket; false if unknown.
static bool read_peer(int fd, PeerCred &p, std::string &who)
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

// Connections this uid holds now.
int Server::conns_of(uid_t uid) const
{
    int n = 0;
    for (const auto &[fd, c] : conns_)
        n += c->peer.uid == uid;
    return n;
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
        ep_add(epfd_, fd, EPOLLIN);
        send(*c, proto::format_version());
        log_debug("connection from %s", who.c_str());
    }
}

// Tell a turned-away peer why, close it, and log it (rate limited per uid).
void Server::refuse_peer(int fd, const PeerCred &p, const std::string &who, const char *reason)
{
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
        log_warning("%s: %s; disconnected", c->who.c_str(), error.c_str());
        close_conn(*c);
        return;
    }
    if (p == proto::Parse::Error) {
        send(*c, proto::format_line(req.id, "ERROR", {{"reason", error}}));
        return;
    }
    dispatch(c, req);
    for (auto &f : req.args)  // tokens pass through here: leave no copy behind
        wipe(f.second);
}

// Send a refusal of the policy, and log it (rate limited per peer): a
// missing right as a warning, a mailbox the map does not give as info.
void Server::refuse(Connection &c, const proto::Request &req, const Refusal &no)
{
    send(c, no.line);
    if (no.why.empty() || !log_allowed("refused requests of uid=" + std::to_string(c.peer.uid)))
        return;
    if (no.missing_right)
        log_warning("%s: %s refused: %s", c.who.c_str(), req.command.c_str(), no.why.c_str());
    else
        log_info("%s refused: %s", req.command.c_str(), no.why.c_str());
}

// Route a parsed request to its command, if the peer may use it.
void Server::dispatch(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    Refusal no;
    if (!policy_.allows(c->rights, c->peer, req, no))
        return refuse(*c, req, no);
    if (req.command == "TOKEN")
        cmd_token(c, req);
    else if (req.command == "PING")
        send(*c, proto::format_line(req.id, "OK", {}));
    else if (req.command == "INVALIDATE")
        cmd_invalidate(c, req);
    else if (req.command == "STATUS")
        cmd_status(c, req);
    else if (req.command == "LOGIN")
        cmd_login(c, req);
    else if (req.command == "VALIDATE")
        cmd_validate(c, req);
    else
        send(*c, proto::format_line(req.id, "ERROR", {{"reason", "unknown command"}}));
}

// The FAIL line of a failed reply.
static std::string fail_line(const std::string &id, const TokenReply &r)
{
    proto::Fields f = {{"kind", r.temporary ? "temp" : "perm"}, {"code", r.code}, {"reason", r.reason}};
    if (r.retry_after > 0)
        f.emplace_back("retry_after", std::to_string(r.retry_after));
    return proto::format_line(id, "FAIL", f);
}

// TOKEN account=NAME [mailbox=M] | TOKEN user=LOCAL
void Server::cmd_token(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    MailboxRoute route;
    Refusal no;
    if (!policy_.token_route(c->rights, c->peer, req, route, no))
        return refuse(*c, req, no);
    c->in_flight++;
    std::weak_ptr<Connection> weak = c;
    std::string id = req.id;
    bool routed = req.arg("user") && !req.arg("account");
    broker_.get_token(route.account, [this, weak, id, route, routed](const TokenReply &r) {
        auto conn = weak.lock();
        if (!conn || conn->closed)
            return;
        if (r.ok) {
            proto::Fields f = {{"token", r.token.str()}, {"expires", std::to_string(r.expires)}, {"hash", r.hash}};
            if (routed) {
                f.emplace_back("mailbox", route.mailbox);
                f.emplace_back("account", route.account);
            }
            Secret line(proto::format_line(id, "OK", f));
            wipe(f[0].second);
            send(*conn, line.str());
        } else {
            send(*conn, fail_line(id, r));
        }
        finish_request(conn);
    });
}

// INVALIDATE account=NAME hash=HEX
void Server::cmd_invalidate(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    const std::string *account = req.arg("account");
    const std::string *hash = req.arg("hash");
    if (!account || !hash) {
        send(*c, proto::format_line(req.id, "ERROR", {{"reason", "missing account or hash"}}));
        return;
    }
    Refusal no;
    if (!policy_.invalidate_allowed(c->rights, c->peer, req, no))
        return refuse(*c, req, no);
    std::string why;
    bool dropped = broker_.invalidate(*account, *hash, why);
    proto::Fields f = {{"dropped", dropped ? "yes" : "no"}};
    if (!dropped)
        f.emplace_back("reason", why);
    send(*c, proto::format_line(req.id, "OK", f));
}

// STATUS: one ACCOUNT line per account, then the daemon's figures.
void Server::cmd_status(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    for (const auto &f : broker_.status())
        send(*c, proto::format_line(req.id, "ACCOUNT", f));
    send(*c, proto::format_line(req.id, "OK",
                                {{"version", PACKAGE_VERSION},
                                 {"uptime", std::to_string((long)(mono_now() - started_))},
                                 {"connections", std::to_string(conns_.size())},
                                 {"requests", std::to_string(requests_)},
                                 {"idp_requests", std::to_string(broker_.idp_requests())},
                                 {"validation_keys", std::to_string(validator_.keys())},
                                 {"key_fetches", std::to_string(validator_.fetches())}}));
}

// The answer line of a VALIDATE: OK with the user, or FAIL with a reason.
static std::string validate_line(const std::string &id, const std::string &hash, const ValidateReply &r)
{
    if (r.ok)
        return proto::format_line(id, "OK", {{"user", r.user}, {"expires", std::to_string(r.expires)},
                                             {"hash", hash}});
    return proto::format_line(id, "FAIL", {{"kind", r.temporary ? "temp" : "perm"}, {"code", r.code},
                                           {"reason", r.reason}, {"hash", hash}});
}

// VALIDATE token=JWT [login=NAME]: a client's bearer token, checked locally.
// With login (the user name the client authenticated as) the token must
// belong to that user: a token of alice never opens bob's mailbox.
void Server::cmd_validate(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    const std::string *token = req.arg("token");
    if (!token) {
        send(*c, proto::format_line(req.id, "ERROR", {{"reason", "missing token"}}));
        return;
    }
    const std::string *login_arg = req.arg("login");
    std::string login = login_arg ? *login_arg : std::string();
    bool check_login = login_arg != nullptr;
    c->in_flight++;
    std::weak_ptr<Connection> weak = c;
    std::string id = req.id, digest = hex(sha256(*token)), hash = digest.substr(0, 12);
    validator_.validate(*token, digest, [this, weak, id, hash, login, check_login](const ValidateReply &verdict) {
        auto conn = weak.lock();
        if (!conn || conn->closed)
            return;
        ValidateReply r = verdict;
        if (r.ok && check_login && !Policy::login_matches(login, r)) {
            r = ValidateReply{};
            r.code = "invalid_token";
            r.reason = "token belongs to " + verdict.claim + ", not " + login;
        }
        if (!r.ok && log_allowed("token refusals (" + r.code + ") for uid=" + std::to_string(conn->peer.uid)))
            log_info("token %s refused: %s", hash.c_str(), r.reason.c_str());
        send(*conn, validate_line(id, hash, r));
        finish_request(conn);
    });
}

// LOGIN account=NAME (admins only): device-code sign-in.
void Server::cmd_login(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    const std::string *account = req.arg("account");
    if (!account) {
        send(*c, proto::format_line(req.id, "ERROR", {{"reason", "missing account"}}));
        return;
    }
    c->in_flight++;
    std::weak_ptr<Connection> weak = c;
    std::string id = req.id;
    auto pending = [this, weak, id](const LoginPending &p) {
        if (auto conn = weak.lock(); conn && !conn->closed)
            send(*conn, proto::format_line(id, "PENDING",
                                           {{"user_code", p.user_code},
                                            {"verification_uri", p.verification_uri},
                                            {"expires_in", std::to_string(p.expires_in)},
                                            {"message", proto::sanitize(p.message)}}));
    };
    auto done = [this, weak, id](const TokenReply &r) {
        auto conn = weak.lock();
        if (!conn || conn->closed)
            return;
        send(*conn, r.ok ? proto::format_line(id, "OK", {{"expires", std::to_string(r.expires)}})
                         : fail_line(id, r));
        finish_request(conn);
    };
    auto wanted = [weak] {
        auto conn = weak.lock();
        return conn && !conn->closed;
    };
    broker_.login(*account, pending, done, wanted);
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
    running_ = true;
    started_ = mono_now();
    double last_tick = 0, last_idle = started_;
    struct epoll_event evs[64];
    while (running_) {
        double now = mono_now();
        if (now - last_tick >= TICK_INTERVAL) {
            broker_.tick();
            validator_.tick();
            last_tick = now;
        }
        if (now - last_idle >= 1.0) {
            expire_idle();
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
