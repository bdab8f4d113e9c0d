// log.hh: one logging idiom for every exoauth binary: printf-style lines to
// stderr (foreground, systemd's journal) or syslog, with a level. Messages
// must never hold a token or secret: pass short_hash() of it instead.
#pragma once

#include <string>

namespace exo {

enum class LogLevel { Debug, Info, Warning, Error };

// ident: program name; to_syslog: openlog/syslog instead of stderr.
void log_open(const char *ident, bool to_syslog, bool debug);
void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) ::exo::log_msg(::exo::LogLevel::Debug, __VA_ARGS__)
#define log_info(...) ::exo::log_msg(::exo::LogLevel::Info, __VA_ARGS__)
#define log_warning(...) ::exo::log_msg(::exo::LogLevel::Warning, __VA_ARGS__)
#define log_error(...) ::exo::log_msg(::exo::LogLevel::Error, __VA_ARGS__)

} // namespace exo
