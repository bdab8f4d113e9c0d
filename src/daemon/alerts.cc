// alerts.cc: exoauthd's alerts (see alerts.hh, exoauthd.conf(5) [alerts]).
// On each tick the broker's per-account facts are turned into conditions
// (alertrules.cc) and compared with what was sent; the administrator's command runs through
// fork and execve (no shell: the arguments are the configured words, then
// the event kind and the account), with a minimal environment, in its own
// process group that is killed after the timeout. Its stdout and stderr go
// to exoauthd's log, bounded. The JSON it reads never holds a token, a
// secret or a hash of one: the text comes from the IdP's error and fixed
// words.
#include "alerts.hh"

#include "broker.hh"
#include "clock.hh"
#include "log.hh"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exo {

namespace {

constexpr size_t MAX_QUEUE = 32;           // events waiting for the command
constexpr size_t MAX_OUTPUT = 4096;        // bytes of a command's output logged
constexpr size_t MAX_LINE = 512;           // bytes of one logged output line
constexpr double EVAL_INTERVAL = 1.0;      // seconds between looks at the broker's facts

// Environment of the command: nothing of exoauthd's own.
const char *const kEnv[] = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin", "LC_ALL=C.UTF-8",
                            nullptr};

// In the child, between fork and execve: async-signal-safe calls only.
[[noreturn]] void exec_child(int in_fd, int out_fd, char *const *argv, int max_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // exoauthd blocks TERM, INT, HUP
    signal(SIGPIPE, SIG_DFL);                  // ignored in exoauthd; exec keeps SIG_IGN
    setpgid(0, 0);
    // Above 2 first: dup2 onto itself would keep close-on-exec (when
    // exoauthd was started with a standard descriptor closed).
    int in = fcntl(in_fd, F_DUPFD, 10), out = fcntl(out_fd, F_DUPFD, 10);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(126);
    if (close_range(3, ~0U, 0) != 0)
        for (int fd = 3; fd < max_fd; fd++)
            close(fd);
    execve(argv[0], argv, const_cast<char *const *>(kEnv));
    _exit(127);
}

// True when stderr is systemd's journal stream (JOURNAL_STREAM names its
// device and inode), so events can carry MESSAGE_ID= as a field.
bool stderr_is_journal()
{
    const char *v = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

// Closes a descriptor if open and marks it closed.
void close_fd(int &fd)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
}

// Write the event to the child's stdin without waiting: it is far smaller
// than a pipe's buffer; a child that exits first loses it (EPIPE).
void feed_child(int fd, const std::string &json)
{
    fcntl(fd, F_SETFL, O_NONBLOCK);
    ssize_t n = write(fd, json.data(), json.size());
    if (n != (ssize_t)json.size())
        log_warning("alert command: could not pass the whole event on stdin (%s)",
                    n < 0 ? strerror(errno) : "short write");
    close(fd);
}

// Fork and exec command + kind + account with e's JSON on stdin: the
// child's pid and the (non-blocking) read end of its output, or false,
// logged.
bool spawn_command(const std::vector<std::string> &command, const AlertEvent &e, pid_t &pid, int &out_fd)
{
    std::vector<std::string> words = command;
    words.push_back(e.kind);
    words.push_back(e.account);
    std::vector<char *> argv;
    for (auto &w : words)
        argv.push_back(&w[0]);
    argv.push_back(nullptr);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        log_error("alert command: pipe: %s", strerror(errno));
        for (int fd : {in[0], in[1], out[0], out[1]})
            if (fd >= 0)
                close(fd);
        return false;
    }
    int max_fd = (int)std::min(sysconf(_SC_OPEN_MAX), 65536L);
    pid = fork();
    if (pid == 0)
        exec_child(in[0], out[1], argv.data(), max_fd);
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        log_error("alert command: fork: %s", strerror(errno));
        close(in[1]);
        close(out[0]);
        return false;
    }
    setpgid(pid, pid);  // also here, so a kill(-pid) never misses
    feed_child(in[1], alert_json(e));
    out_fd = out[0];
    fcntl(out_fd, F_SETFL, O_NONBLOCK);
    return true;
}

} // namespace

Alerter::~Alerter()
{
    if (child_ > 0) {
        kill(-child_, SIGKILL);
        int status;
        while (waitpid(child_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    close_fd(out_fd_);
}

// See alerts.hh.
void Alerter::configure(const Config &cfg)
{
    cfg_ = cfg.alerts;
    to_journal_ = cfg.log == "stderr" && stderr_is_journal();
    if (!cfg_.enabled) {
        sent_.clear();
        queue_.clear();
    }
}

// See alerts.hh.
void Alerter::tick()
{
    watch_child();
    start_next();
    double mono = mono_now();
    if (!cfg_.enabled || mono - last_eval_ < EVAL_INTERVAL)
        return;
    last_eval_ = mono;
    int64_t now = (int64_t)wall_now();
    std::vector<AlertCondition> conds = alert_conditions(broker_.alert_facts(), cfg_, now);
    std::map<std::pair<std::string, std::string>, bool> seen;
    for (const auto &c : conds) {
        auto key = std::make_pair(c.kind, c.account);
        seen[key] = true;
        auto it = sent_.find(key);
        if (it == sent_.end()) {
            Sent s{now, now, c};
            emit(c, s, now, false, false);
            sent_[key] = s;
        } else if (now - it->second.last_sent >= cfg_.reminder) {
            it->second.cond = c;
            it->second.last_sent = now;
            emit(c, it->second, now, false, true);
        }
    }
    for (auto it = sent_.begin(); it != sent_.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        emit(it->second.cond, it->second, now, true, false);
        it = sent_.erase(it);
    }
    start_next();
}

// Log one event with its message id and queue it for the command.
void Alerter::emit(const AlertCondition &c, const Sent &s, int64_t now, bool resolved, bool reminder)
{
    AlertEvent e;
    e.kind = resolved ? "resolved" : c.kind;
    e.resolves = resolved ? c.kind : "";
    e.severity = alert_severity(e.kind);
    e.account = c.account;
    e.message_id = alert_message_id(e.kind);
    e.text = resolved ? c.kind + " of account " + c.account + " cleared: " + c.text : c.text;
    e.hint = resolved ? "" : c.hint;
    e.first_seen = s.first_seen;
    e.time = now;
    e.reminder = reminder;
    log_event(e);
    enqueue(std::move(e));
}

// The event's log line: the journal's MESSAGE_ID= field under systemd, the
// id in the text otherwise (syslog, a terminal, a test's log file).
void Alerter::log_event(const AlertEvent &e) const
{
    LogLevel level = e.severity == "critical" ? LogLevel::Error
                     : e.severity == "warning" ? LogLevel::Warning
                                               : LogLevel::Info;
    const char *again = e.reminder ? " (reminder)" : "";
    if (to_journal_ &&
        sd_journal_send("MESSAGE=alert %s%s: %s", e.kind.c_str(), again, e.text.c_str(), "MESSAGE_ID=%s",
                        e.message_id.c_str(), "PRIORITY=%d", level == LogLevel::Error ? 3 : level == LogLevel::Warning ? 4 : 6,
                        "SYSLOG_IDENTIFIER=exoauthd", "EXOAUTH_ALERT=%s", e.kind.c_str(), "EXOAUTH_ACCOUNT=%s",
                        e.account.c_str(), nullptr) == 0)
        return;
    log_msg(level, "alert %s%s: %s MESSAGE_ID=%s", e.kind.c_str(), again, e.text.c_str(), e.message_id.c_str());
}

// Queue an event for the command; a full queue drops the new event (it is
// logged all the same, and a persisting state is sent again at its reminder).
void Alerter::enqueue(AlertEvent e)
{
    if (queue_.size() >= MAX_QUEUE) {
        dropped_++;
        log_warning("alert %s for %s not passed to the command: %zu alerts already wait (%llu dropped so far)",
                    e.kind.c_str(), e.account.c_str(), queue_.size(), (unsigned long long)dropped_);
        return;
    }
    queue_.push_back(std::move(e));
}

// Start the command for the oldest queued event, if none runs.
void Alerter::start_next()
{
    if (child_ > 0 || queue_.empty())
        return;
    AlertEvent e = std::move(queue_.front());
    queue_.pop_front();
    pid_t pid;
    int out_fd;
    if (!spawn_command(cfg_.command, e, pid, out_fd))
        return;
    child_ = pid;
    out_fd_ = out_fd;
    deadline_ = mono_now() + cfg_.timeout;
    killed_ = false;
    child_kind_ = e.kind;
    out_buf_.clear();
    out_logged_ = 0;
    log_debug("alert command started for %s (pid %d)", e.kind.c_str(), (int)pid);
}

// Reap the command if it ended, kill it if its time is up.
void Alerter::watch_child()
{
    if (child_ <= 0)
        return;
    drain_output(false);
    int status = 0;
    pid_t r = waitpid(child_, &status, WNOHANG);
    if (r == child_) {
        drain_output(true);
        if (killed_)
            log_warning("alert command for %s killed after %d s", child_kind_.c_str(), cfg_.timeout);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            log_info("alert command for %s done", child_kind_.c_str());
        else
            log_warning("alert command for %s failed (%s %d)", child_kind_.c_str(),
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        end_child();
        return;
    }
    if (!killed_ && mono_now() >= deadline_) {
        kill(-child_, SIGKILL);
        killed_ = true;
    }
}

// Log what the command wrote, a line at a time, at most MAX_OUTPUT bytes.
void Alerter::drain_output(bool final)
{
    char buf[4096];
    ssize_t n;
    while (out_fd_ >= 0 && (n = read(out_fd_, buf, sizeof(buf))) > 0) {
        if (out_logged_ + out_buf_.size() < MAX_OUTPUT)
            out_buf_.append(buf, std::min((size_t)n, MAX_OUTPUT - out_logged_ - out_buf_.size()));
    }
    size_t nl;
    while ((nl = out_buf_.find('\n')) != std::string::npos || (final && !out_buf_.empty())) {
        size_t len = nl == std::string::npos ? out_buf_.size() : nl;
        log_info("alert command: %s", proto::sanitize(out_buf_.substr(0, std::min(len, MAX_LINE)), MAX_LINE).c_str());
        out_logged_ += len + 1;
        out_buf_.erase(0, nl == std::string::npos ? len : nl + 1);
    }
}

// Forget the ended command; the next event may start.
void Alerter::end_child()
{
    child_ = -1;
    close_fd(out_fd_);
    killed_ = false;
}

} // namespace exo
