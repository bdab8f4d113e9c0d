// main.cc: exoauthd, the exoauth token broker (exoauthd(8)). Reads the
// configuration, loads credentials, binds the sockets, drops privileges,
// tells systemd it is ready and runs the event loop until SIGTERM. SIGHUP
// reloads the configuration without dropping cached tokens.
#include "exoauth_config.h"

#include "alerts.hh"
#include "broker.hh"
#include "config.hh"
#include "credfile.hh"
#include "harden.hh"
#include "http.hh"
#include "log.hh"
#include "server.hh"
#include "workers.hh"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

namespace {

constexpr int WORKER_THREADS = 4;

struct Options {
    std::string config = SYSCONFDIR "/exoauth/exoauthd.conf";
    bool check_only = false;
    bool debug = false;
};

// Print usage to f.
void usage(FILE *f)
{
    fprintf(f, "usage: exoauthd [-c config] [-t] [-d] [-V]\n"
               "  -c FILE  configuration file (default %s)\n"
               "  -t       check the configuration and credentials, then exit\n"
               "  -d       debug logging\n"
               "  -V       print the version\n",
            SYSCONFDIR "/exoauth/exoauthd.conf");
}

// Parse argv into opts; exits on -h, -V and bad usage.
void parse_args(int argc, char **argv, Options &opts)
{
    int ch;
    while ((ch = getopt(argc, argv, "c:tdVh")) != -1) {
        switch (ch) {
        case 'c': opts.config = optarg; break;
        case 't': opts.check_only = true; break;
        case 'd': opts.debug = true; break;
        case 'V': printf("exoauthd %s\n", PACKAGE_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(2);
    }
}

// Become cfg.user (from root), checking every step.
bool drop_privileges(const std::string &user, std::string &error)
{
    if (user.empty() || geteuid() != 0)
        return true;
    struct passwd *pw = getpwnam(user.c_str());
    if (!pw) {
        error = "user " + user + " does not exist";
        return false;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (initgroups(user.c_str(), gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        error = "cannot become " + user + ": " + strerror(errno);
        return false;
    }
    if (setuid(0) == 0 || geteuid() != uid || getegid() != gid) {
        error = "privileges were not dropped";
        return false;
    }
    return true;
}

// Block the signals the event loop reads through signalfd (before any
// thread starts, so every thread inherits the mask).
void block_signals()
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

// Keep secrets out of core dumps before any is loaded; a kernel that
// refuses is a reason not to start, not a warning to miss.
bool harden(std::string &error)
{
    if (!exo::harden_no_dumps(error))
        return false;
    std::string why;
    if (!exo::harden_secure_heap(why))
        log_warning("%s; private keys stay in ordinary memory (still excluded from core dumps)", why.c_str());
    return true;
}

// Load config and fail with a message naming file and line.
bool load(const std::string &path, exo::Config &cfg)
{
    std::string error;
    if (!exo::config_load(path, cfg, error)) {
        log_error("%s", error.c_str());
        return false;
    }
    return true;
}

// SIGHUP: re-read the file; keep running on the old one if it is bad.
void reload(const std::string &path, exo::Broker &broker, exo::Validator &validator,
            exo::Server &server, exo::Alerter &alerter)
{
    exo::Config cfg;
    std::string error;
    if (!load(path, cfg))
        return log_error("reload refused; still running on the previous configuration");
    exo::Policy policy;  // resolved and read first: a reload is all or nothing
    exo::ValidateFiles files;
    if (!policy.configure(cfg, error) || !exo::validate_files_load(cfg, files, error) ||
        !broker.configure(cfg, error))
        return log_error("reload refused: %s", error.c_str());
    server.configure(cfg, std::move(policy));
    validator.configure(cfg, std::move(files));
    alerter.configure(cfg);
    broker.warm();
    log_info("configuration reloaded (listen sockets change only on restart; identity provider %s)",
             exo::idp_route(exo::idp_http_options(cfg)).c_str());
}

// Everything after option parsing; returns the exit status.
int run(const Options &opts)
{
    exo::log_open("exoauthd", false, opts.debug);
    std::string error;
    if (!harden(error)) {
        log_error("%s", error.c_str());
        return 1;
    }
    exo::Config cfg;
    if (!load(opts.config, cfg))
        return 1;
    exo::log_open("exoauthd", cfg.log == "syslog", opts.debug || cfg.debug);
    if ((geteuid() == 0 && !exo::cred_set_owner(cfg.user, error)) || !exo::http_global_init(error)) {
        log_error("%s", error.c_str());
        return 1;
    }
    block_signals();
    exo::Workers workers;
    exo::Broker broker(workers);
    exo::Validator validator(workers);
    exo::Server server(broker, validator, workers);
    exo::Policy policy;
    exo::ValidateFiles files;
    if (!policy.configure(cfg, error) || !exo::validate_files_load(cfg, files, error) ||
        !broker.configure(cfg, error)) {
        log_error("%s", error.c_str());
        return 1;
    }
    server.configure(cfg, std::move(policy));
    validator.configure(cfg, std::move(files));
    if (opts.check_only) {
        printf("%s: configuration and credentials OK\n", opts.config.c_str());
        return 0;
    }
    if (!server.bind_all(cfg, error) || !drop_privileges(cfg.user, error) ||
        !exo::harden_no_dumps(error) || !workers.start(WORKER_THREADS, error)) {
        log_error("%s", error.c_str());
        return 1;
    }
    exo::Alerter alerter(broker);
    alerter.configure(cfg);
    server.on_tick([&] { alerter.tick(); });
    broker.warm();
    log_info("exoauthd %s ready (%zu accounts, identity provider %s)", PACKAGE_VERSION,
             cfg.accounts.size(), exo::idp_route(exo::idp_http_options(cfg)).c_str());
    sd_notify(0, "READY=1");
    bool ok = server.run([&] { reload(opts.config, broker, validator, server, alerter); }, error);
    sd_notify(0, "STOPPING=1");
    if (!ok)
        log_error("%s", error.c_str());
    workers.stop();
    log_info("exoauthd stopped");
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
    Options opts;
    parse_args(argc, argv, opts);
    return run(opts);
}
