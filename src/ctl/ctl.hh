// ctl.hh: pieces shared by exoauthctl's commands: the options every
// command takes and the connection to exoauthd. Used by main.cc (status,
// token, login, ping), doctor.cc and smtpcheck.cc (doctor --smtp).
#pragma once

#include "client.hh"
#include "config.hh"

#include <string>

namespace exo::ctl {

struct Options {
    std::string config;      // -c; default SYSCONFDIR/exoauth/exoauthd.conf
    std::string socket;      // -s; default: first [listen] of the config
    bool show_token = false; // token --show
    int timeout_ms = 15000;
};

// The socket to talk to: -s, else the config's first listen path, else the
// built-in default.
std::string socket_path(const Options &opts);

// Connect and greet; prints the reason and returns false on failure.
bool connect_daemon(const Options &opts, Client &client, std::string &error);

// doctor's verdicts, one line each: OK, FAIL (then what it means and the
// fix) or SKIP (a step not reached).
struct Report {
    int failures = 0;
    void line(bool ok, const std::string &what, const std::string &detail, const std::string &fix = "");
    void skip(const std::string &what, const std::string &detail);
    void note(const std::string &label, const std::string &text);
};

// doctor --smtp MAILBOX [--account NAME] [--relay HOST:PORT] [--ca-file FILE]
struct SmtpCheck {
    std::string mailbox;  // empty: no SMTP check
    std::string account;  // default: mailbox_map's account for mailbox, else the only one
    std::string relay;    // default: the cloud's SMTP submission host, port 587
    std::string ca_file;  // extra trust anchors; default: the system store
};

// exoauthctl doctor [doctor options]; args are the words after "doctor".
int cmd_doctor(const Options &opts, int argc, char **argv);

// One real EHLO/STARTTLS/AUTH session to the relay as sc.mailbox.
void check_smtp(Report &rep, const Options &opts, const Config &cfg, const SmtpCheck &sc);

// How exoauthd's accounts are doing, as exoauthctl status's exit status.
enum class Health { Ok = 0, Soon = 1, Broken = 2 };
enum class StatusFormat { Table, Json, Nagios };
int cmd_status(const Options &opts, StatusFormat format);
// exoauthd's metrics (Prometheus text) on stdout, or atomically to output.
int cmd_metrics(const Options &opts, const std::string &output);

// Value of key in an answer of exoauthd, or "-".
std::string field(const proto::Response &r, const char *key);

// A unix time as local "YYYY-mm-dd HH:MM:SS (in N min)", "-" if not one.
std::string when(const std::string &unix_s);

// The user the packages create and run exoauthd as (debian/exoauth.postinst,
// User= of the unit), used when the config has no "user =".
constexpr const char PACKAGE_USER[] = "exoauth";

// Run as root, accept credential files owned by exoauthd's user: user when
// given, else PACKAGE_USER if it exists. False with a reason if user is unknown.
bool set_file_owner(const std::string &user, std::string &error);

} // namespace exo::ctl
