// alerts.hh: exoauthd's alerts without a monitoring system ([alerts] in
// exoauthd.conf(5)). Each event a human must act on is logged with a stable
// message id and handed to the administrator's command: no shell, a
// minimal environment, the event kind and account as arguments, a JSON
// event on stdin, killed with its process group after a timeout. Events
// are sent once per state change, then again after the reminder interval.
// Event-loop thread only; never blocks it (one child at a time, a bounded
// queue, the child reaped with waitpid(WNOHANG) from tick()).
#pragma once

#include "alertrules.hh"
#include "config.hh"

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace exo {

class Broker;

class Alerter {
public:
    explicit Alerter(const Broker &broker) : broker_(broker) {}
    ~Alerter();
    // Settings from cfg (at start and on reload); no [alerts]: forget all.
    void configure(const Config &cfg);
    // Compare the broker's state with what was sent, send what changed or
    // is due again, and look after the running command.
    void tick();

private:
    struct Sent {
        int64_t first_seen = 0;
        int64_t last_sent = 0;
        AlertCondition cond;
    };
    void emit(const AlertCondition &c, const Sent &s, int64_t now, bool resolved, bool reminder);
    void log_event(const AlertEvent &e) const;
    void enqueue(AlertEvent e);
    void start_next();
    void watch_child();
    void drain_output(bool final);
    void end_child();

    const Broker &broker_;
    AlertsConfig cfg_;
    bool to_journal_ = false;  // stderr is systemd's journal: log through sd-journal
    std::map<std::pair<std::string, std::string>, Sent> sent_;  // (kind, account)
    std::deque<AlertEvent> queue_;
    uint64_t dropped_ = 0;
    pid_t child_ = -1;
    int out_fd_ = -1;        // the child's stdout and stderr
    double deadline_ = 0;    // monotonic: SIGKILL after this
    double last_eval_ = -1e9; // monotonic: last look at the broker's facts
    bool killed_ = false;
    std::string child_kind_;
    std::string out_buf_;
    size_t out_logged_ = 0;  // bytes of output logged for this child
};

} // namespace exo
