// alerts.cc: exoauthd's alerts (see alerts.hh, exoauthd.conf(5) [alerts]).
// Which events exist and when they fire is decided from the broker's
// per-account facts on each tick; the administrator's command runs through
// fork and execve (no shell: the arguments are the configured words, then
// the event kind and the account), with a minimal environment, in its own
// process group that is killed after the timeout. Its stdout and stderr go
// to exoauthd's log, bounded. The JSON it reads never holds a token, a
// secret or a hash of one: the text comes from the IdP's error and fixed
// words.
#include "alerts.hh"

#include "clock.hh"
#include "entra.hh"
#include "json.hh"
#include "log.hh"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <systemd/sd-journal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exo {

namespace {

constexpr size_t MAX_QUEUE = 32;           // events waiting for the command
constexpr size_t MAX_OUTPUT = 4096;        // bytes of a command's output logged
constexpr size_t MAX_LINE = 512;           // bytes of one logged output line

// One kind of event: its severity, its stable message id, what to do.
struct Kind {
    const char *kind;
    const char *severity;
    const char *message_id;
};

const Kind kKinds[] = {
    {"account_failed", "critical", "64231a1da9d94eb7bd19a54355ab2678"},
    {"login_required", "critical", "0dedce15db1343b490d2cf8a41450d43"},
    {"credential_expiring", "warning", "fe479e53f5134aa09f4c558453f13445"},
    {"idp_unreachable", "critical", "36aabe4d12924204a13abaae5d9b0862"},
    {"token_rejected", "warning", "f3fee72905294bafa3f9c061b08cfa0f"},
    {"resolved", "info", "07cb73472b3942f7be065833cae03987"},
};

// The table entry of kind, or null.
const Kind *find_kind(const std::string &kind)
{
    for (const auto &k : kKinds)
        if (kind == k.kind)
            return &k;
    return nullptr;
}

// A date as YYYY-MM-DD (UTC).
std::string utc_date(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[16];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    return buf;
}

// The IdP's refusal: the AADSTS hint doctor gives, or the generic advice.
std::string failure_hint(const AlertFacts &f)
{
    const char *h = aadsts_hint(f.aadsts);
    if (*h)
        return h;
    return "run exoauthctl doctor " + f.account + " and check the app registration in Entra ID";
}

// A delegated account that cannot refresh without a person signing in.
bool needs_login(const AlertFacts &f)
{
    return f.delegated && (!f.signed_in || (f.permanent && f.error_code == "invalid_grant"));
}

// The login_required or account_failed condition of f, if any.
bool refusal_condition(const AlertFacts &f, AlertCondition &c)
{
    if (needs_login(f)) {
        c = {"login_required", f.account,
             "account " + f.account + " needs a person to sign in again" +
                 (f.error.empty() ? std::string(" (no refresh token stored)") : ": " + f.error),
             "run: exoauthctl login " + f.account};
        return true;
    }
    if (!f.permanent)
        return false;
    std::string code = f.aadsts ? " (AADSTS" + std::to_string(f.aadsts) + ")" : "";
    c = {"account_failed", f.account, "account " + f.account + " failed: the IdP refused its token request" +
                                          code + ": " + f.error,
         failure_hint(f)};
    return true;
}

// The credential_expiring condition of f, if any.
bool expiry_condition(const AlertFacts &f, const AlertsConfig &cfg, int64_t now, AlertCondition &c)
{
    if (f.credential_expires <= 0 || f.credential_expires - now >= (int64_t)cfg.warn_days * 86400)
        return false;
    int64_t days = (f.credential_expires - now) / 86400;
    std::string when = f.credential_expires <= now ? "expired on " + utc_date(f.credential_expires)
                                                   : "expires on " + utc_date(f.credential_expires) + " (in " +
                                                         std::to_string(days) + " days)";
    bool cert = std::strcmp(f.credential, "certificate") == 0;
    c = {"credential_expiring", f.account, "account " + f.account + ": its " + f.credential + " " + when,
         cert ? "make a new certificate, add it to the app registration, point certificate and private_key "
                "at it and run exoauthctl reload"
              : "add a new client secret to the app registration, write it to secret_file, update "
                "secret_expires and run exoauthctl reload"};
    return true;
}

// The idp_unreachable condition of f, if any.
bool unreachable_condition(const AlertFacts &f, const AlertsConfig &cfg, int64_t now, AlertCondition &c)
{
    if (f.failing_since <= 0 || now - (int64_t)f.failing_since < cfg.idp_unreachable_after)
        return false;
    c = {"idp_unreachable", f.account,
         "account " + f.account + ": no answer from the IdP for " + std::to_string(now - (int64_t)f.failing_since) +
             " s: " + f.error,
         "check the route (DNS, firewall, [idp] proxy) to the IdP; exoauthctl doctor " + f.account +
             " tests it"};
    return true;
}

// The token_rejected condition of f, if any.
bool rejected_condition(const AlertFacts &f, AlertCondition &c)
{
    if (!f.fresh_rejected)
        return false;
    c = {"token_rejected", f.account,
         "Exchange Online refused a fresh token of account " + f.account +
             " (the token was minutes old, so it did not expire)",
         "check the app's Exchange permissions: the service principal registered in Exchange "
         "(New-ServicePrincipal), its mailbox permissions, and SMTP AUTH enabled for the mailbox"};
    return true;
}

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
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(126);
    if (close_range(3, ~0U, 0) != 0)
        for (int fd = 3; fd < max_fd; fd++)
            close(fd);
    execve(argv[0], argv, const_cast<char *const *>(kEnv));
    _exit(127);
}

// Closes a descriptor if open and marks it closed.
void close_fd(int &fd)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
}

} // namespace

// See alerts.hh.
const char *alert_message_id(const std::string &kind)
{
    const Kind *k = find_kind(kind);
    return k ? k->message_id : "";
}

// See alerts.hh.
std::vector<AlertCondition> alert_conditions(const std::vector<AlertFacts> &facts, const AlertsConfig &cfg,
                                             int64_t now)
{
    std::vector<AlertCondition> out;
    AlertCondition c;
    for (const auto &f : facts) {
        if (refusal_condition(f, c))
            out.push_back(c);
        if (expiry_condition(f, cfg, now, c))
            out.push_back(c);
        if (unreachable_condition(f, cfg, now, c))
            out.push_back(c);
        if (rejected_condition(f, c))
            out.push_back(c);
    }
    return out;
}

// See alerts.hh.
std::string alert_json(const AlertEvent &e)
{
    JsonPtr o(json_object());
    if (!o)
        return "";
    json_object_set_new(o.get(), "kind", json_string(e.kind.c_str()));
    if (!e.resolves.empty())
        json_object_set_new(o.get(), "resolves", json_string(e.resolves.c_str()));
    json_object_set_new(o.get(), "severity", json_string(e.severity.c_str()));
    json_object_set_new(o.get(), "account", json_string(e.account.c_str()));
    json_object_set_new(o.get(), "message_id", json_string(e.message_id.c_str()));
    json_object_set_new(o.get(), "text", json_string(e.text.c_str()));
    json_object_set_new(o.get(), "hint", json_string(e.hint.c_str()));
    json_object_set_new(o.get(), "first_seen", json_integer(e.first_seen));
    json_object_set_new(o.get(), "time", json_integer(e.time));
    json_object_set_new(o.get(), "reminder", json_boolean(e.reminder));
    return json_dump(o.get()) + "\n";
}

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
    to_journal_ = cfg.log == "stderr" && getenv("JOURNAL_STREAM") != nullptr;
    if (!cfg_.enabled) {
        sent_.clear();
        queue_.clear();
    }
}

// See alerts.hh.
void Alerter::tick()
{
    watch_child();
    if (!cfg_.enabled)
        return;
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
    const Kind *k = find_kind(resolved ? "resolved" : c.kind);
    AlertEvent e;
    e.kind = k->kind;
    e.resolves = resolved ? c.kind : "";
    e.severity = k->severity;
    e.account = c.account;
    e.message_id = k->message_id;
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
    std::vector<std::string> words = cfg_.command;
    words.push_back(e.kind);
    words.push_back(e.account);
    std::vector<char *> argv;
    for (auto &w : words)
        argv.push_back(&w[0]);
    argv.push_back(nullptr);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return log_error("alert command: pipe: %s", strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        log_error("alert command: pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return;
    }
    int max_fd = (int)std::min(sysconf(_SC_OPEN_MAX), 65536L);
    pid_t pid = fork();
    if (pid == 0)
        exec_child(in[0], out[1], argv.data(), max_fd);
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        log_error("alert command: fork: %s", strerror(errno));
        close(in[1]);
        close(out[0]);
        return;
    }
    setpgid(pid, pid);  // also here, so a kill(-pid) never misses
    feed_child(in[1], alert_json(e));
    child_ = pid;
    out_fd_ = out[0];
    fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    deadline_ = mono_now() + cfg_.timeout;
    killed_ = false;
    child_kind_ = e.kind;
    out_buf_.clear();
    out_logged_ = 0;
    log_debug("alert command started for %s (pid %d)", e.kind.c_str(), (int)pid);
}

// Write the event to the child's stdin without waiting: it is far smaller
// than a pipe's buffer; a child that exits first loses it (EPIPE).
void Alerter::feed_child(int fd, const std::string &json)
{
    fcntl(fd, F_SETFL, O_NONBLOCK);
    ssize_t n = write(fd, json.data(), json.size());
    if (n != (ssize_t)json.size())
        log_warning("alert command: could not pass the whole event on stdin (%s)",
                    n < 0 ? strerror(errno) : "short write");
    close(fd);
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
