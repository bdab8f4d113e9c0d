// server.hh: exoauthd's socket server: the listening UNIX sockets, the
// SO_PEERCRED allow-list check on every accepted connection, line framing
// and request dispatch to the broker, all on one epoll event loop. Input
// from peers is untrusted and bounded (protocol.hh limits).
#pragma once

#include "broker.hh"
#include "config.hh"
#include "connection.hh"
#include "handlers.hh"
#include "httpmetrics.hh"
#include "lograte.hh"
#include "policy.hh"
#include "protocol.hh"
#include "validator.hh"

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace exo {

class Server : public Replier {
public:
    Server(Broker &broker, Validator &validator, Workers &workers);
    ~Server() override;
    // Create, chmod and chown every listen socket (as root, before the drop).
    bool bind_all(const Config &cfg, std::string &error);
    // Limits from cfg and a policy already resolved from it (also on reload:
    // open connections get the new rights, or are closed). Cannot fail, so
    // a reload commits only after everything else has loaded.
    void configure(const Config &cfg, Policy &&policy);
    // Run until stop() (SIGTERM/SIGINT); SIGHUP calls reload.
    bool run(std::function<void()> reload, std::string &error);
    void stop() { running_ = false; }
    // Also run f on each tick of the event loop (the alerts).
    void on_tick(std::function<void()> f) { on_tick_ = std::move(f); }

    // Replier, for the handlers.
    void send(Connection &c, const std::string &line) override;
    void finish_request(const std::shared_ptr<Connection> &c) override;
    bool log_allowed(const std::string &kind) override;
    ServerFigures figures() const override;

private:
    void accept_on(int lfd);
    int conns_of(uid_t uid) const;
    const char *refusal_for(const PeerCred &p, bool known) const;
    void refuse_peer(int fd, const PeerCred &p, const std::string &who, const char *reason);
    void recheck_peers();
    void on_readable(const std::shared_ptr<Connection> &c);
    void run_lines(const std::shared_ptr<Connection> &c);
    void bad_input(Connection &c, const char *why);
    void schedule(const std::shared_ptr<Connection> &c);
    void run_ready();
    void flush_log_summaries(double now);
    void on_writable(const std::shared_ptr<Connection> &c);
    void handle_line(const std::shared_ptr<Connection> &c, const std::string &line);
    void close_conn(Connection &c);
    void update_events(Connection &c);
    void expire_idle();
    bool bind_metrics(const Config &cfg, std::string &error);
    void tell_metrics(const Config &cfg);

    Broker &broker_;
    Validator &validator_;
    Workers &workers_;
    Policy policy_;
    Handlers handlers_;
    int max_clients_ = 256;
    int max_per_uid_ = 128;
    int idle_timeout_ = 300;
    std::deque<std::weak_ptr<Connection>> ready_;  // connections with lines waiting
    LogLimiter log_limit_;  // refusals and bad input, per kind
    int epfd_ = -1;
    int sigfd_ = -1;
    std::vector<int> listeners_;
    std::vector<std::string> paths_;
    std::map<int, std::shared_ptr<Connection>> conns_;
    std::map<uid_t, int> per_uid_;  // connections held by each uid
    std::unique_ptr<HttpMetrics> http_;  // [metrics], or null
    std::function<void()> on_tick_;
    bool running_ = false;
    double started_ = 0;
    uint64_t requests_ = 0;
};

} // namespace exo
