// log.cc: the one logging sink of every exoauth binary. Lines go to stderr
// with a level prefix (systemd's journal adds the time) or to syslog
// (LOG_MAIL, like Postfix and Dovecot). Thread safe: one write per line.
#include "log.hh"

#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <syslog.h>
#include <unistd.h>

namespace exo {

namespace {
bool g_syslog = false;
bool g_debug = false;
std::string g_ident = "exoauth";
std::mutex g_mutex;

// The syslog priority of a level.
int syslog_priority(LogLevel level)
{
    switch (level) {
    case LogLevel::Debug: return LOG_DEBUG;
    case LogLevel::Info: return LOG_INFO;
    case LogLevel::Warning: return LOG_WARNING;
    case LogLevel::Error: return LOG_ERR;
    }
    return LOG_ERR;
}

// The word stderr lines start with.
const char *level_word(LogLevel level)
{
    switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
    }
    return "error";
}
} // namespace

// Choose the sink once, at start.
void log_open(const char *ident, bool to_syslog, bool debug)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    g_ident = ident;
    g_syslog = to_syslog;
    g_debug = debug;
    if (to_syslog)
        openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
}

// Format and emit one line; newlines in the text become spaces.
void log_msg(LogLevel level, const char *fmt, ...)
{
    if (level == LogLevel::Debug && !g_debug)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_syslog) {
        syslog(syslog_priority(level), "%s", buf);
        return;
    }
    char line[1200];
    int n = snprintf(line, sizeof(line), "%s: %s: %s\n", g_ident.c_str(), level_word(level), buf);
    if (n > 0)
        (void)!write(STDERR_FILENO, line, std::min<size_t>(n, sizeof(line) - 1));
}

} // namespace exo
