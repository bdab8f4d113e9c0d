// main.cc: exoauthctl, the administrator's tool (exoauthctl(1)): status and
// metrics of exoauthd, a token check (expiry and hash; the token itself only on
// request), device-code sign-in of delegated accounts, and doctor. It talks
// to exoauthd over its socket; answers are parsed as untrusted input.
#include "exoauth_config.h"

#include "ctl.hh"
#include "credfile.hh"
#include "harden.hh"
#include "secret.hh"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <getopt.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

namespace exo::ctl {

// Root reads files as exoauthd's user may own them (credfile.hh).
bool set_file_owner(const std::string &user, std::string &error)
{
    if (geteuid() != 0)
        return true;
    if (!user.empty())
        return cred_set_owner(user, error);
    std::string ignored;
    (void)cred_set_owner(PACKAGE_USER, ignored); // absent: root only
    return true;
}

// -s, else the first listen path of the config, else the default.
std::string socket_path(const Options &opts)
{
    if (!opts.socket.empty())
        return opts.socket;
    Config cfg;
    std::string error;
    if (config_load(opts.config, cfg, error) && !cfg.listens.empty())
        return cfg.listens.front().path;
    return RUNSTATEDIR "/exoauth/exoauthd.sock";
}

// Connect to exoauthd with the protocol greeting.
bool connect_daemon(const Options &opts, Client &client, std::string &error)
{
    std::string path = socket_path(opts);
    if (client.connect(path, 3000, error))
        return true;
    error = path + ": " + error;
    return false;
}

// See ctl.hh.
std::string field(const proto::Response &r, const char *key)
{
    const std::string *v = r.get(key);
    return v ? *v : "-";
}

// See ctl.hh.
std::string when(const std::string &unix_s)
{
    char *end = nullptr;
    long long t = strtoll(unix_s.c_str(), &end, 10);
    if (!end || *end || t <= 0)
        return "-";
    time_t tt = (time_t)t;
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime(&tt));
    long long mins = (t - (long long)time(nullptr)) / 60;
    return std::string(buf) + " (in " + std::to_string(mins) + " min)";
}

namespace {

// Print usage to f.
void usage(FILE *f)
{
    fprintf(f, "usage: exoauthctl [-c config] [-s socket] COMMAND\n"
               "commands:\n"
               "  status [--json|--nagios]  what exoauthd is doing, per account; exit 0 all well,\n"
               "                      1 needs a human soon, 2 broken now\n"
               "  token ACCOUNT [--show]  get a token: expiry and hash (--show prints it)\n"
               "  login ACCOUNT       sign a delegated account in (device code)\n"
               "  validate            check a client token read from standard input\n"
               "  doctor [--smtp MAILBOX [--account NAME] [--relay HOST:PORT] [--ca-file FILE]]\n"
               "                      check configuration, socket, IdP and tokens; --smtp: one real\n"
               "                      EHLO/STARTTLS/AUTH as MAILBOX at the relay, explained\n"
               "  ping                check that exoauthd answers\n"
               "  metrics [--output FILE]  exoauthd's figures in Prometheus text format (FILE\n"
               "                      is replaced atomically, for node_exporter's textfile collector)\n");
}


// Send one request and wait for its final answer; prints errors.
bool request(const Options &opts, proto::Request req, proto::Response &resp,
             std::vector<proto::Response> *extra = nullptr)
{
    Client c;
    std::string error;
    if (!connect_daemon(opts, c, error) || !c.call(req, resp, opts.timeout_ms, error, extra)) {
        fprintf(stderr, "exoauthctl: %s\n", error.c_str());
        return false;
    }
    return true;
}

// Print a FAIL or ERROR answer; returns the exit status.
int report_failure(const proto::Response &r)
{
    fprintf(stderr, "exoauthctl: %s %s: %s\n", r.status.c_str(), field(r, "code").c_str(),
            field(r, "reason").c_str());
    return field(r, "kind") == "temp" ? 75 : 1;
}

// exoauthctl ping
int cmd_ping(const Options &opts)
{
    proto::Response r;
    if (!request(opts, {"1", "PING", {}}, r))
        return 1;
    printf("exoauthd answers on %s\n", socket_path(opts).c_str());
    return r.status == "OK" ? 0 : report_failure(r);
}

// exoauthctl token ACCOUNT [--show]
int cmd_token(const Options &opts, const std::string &account)
{
    proto::Response r;
    if (!request(opts, {"1", "TOKEN", {{"account", account}}}, r))
        return 1;
    if (r.status != "OK")
        return report_failure(r);
    printf("account %s: token %s, expires %s\n", account.c_str(), field(r, "hash").c_str(),
           when(field(r, "expires")).c_str());
    if (opts.show_token)
        printf("%s\n", field(r, "token").c_str());
    for (auto &f : r.fields)
        wipe(f.second);
    return 0;
}

// exoauthctl login ACCOUNT: show the code, wait for the sign-in.
int cmd_login(const Options &opts, const std::string &account)
{
    Client c;
    std::string error;
    if (!connect_daemon(opts, c, error) || !c.send({"1", "LOGIN", {{"account", account}}}, error)) {
        fprintf(stderr, "exoauthctl: %s\n", error.c_str());
        return 1;
    }
    for (;;) {
        proto::Response r;
        if (!c.receive(r, 20 * 60 * 1000, error)) {
            fprintf(stderr, "exoauthctl: %s\n", error.c_str());
            return 1;
        }
        if (r.status == "PENDING") {
            printf("%s\n(code %s at %s, valid %s s; waiting for the sign-in...)\n",
                   field(r, "message").c_str(), field(r, "user_code").c_str(),
                   field(r, "verification_uri").c_str(), field(r, "expires_in").c_str());
            fflush(stdout);
            continue;
        }
        if (r.status != "OK")
            return report_failure(r);
        printf("account %s signed in; refresh token stored; access token expires %s\n",
               account.c_str(), when(field(r, "expires")).c_str());
        return 0;
    }
}

// exoauthctl validate: a client token from standard input (never argv,
// which other users can read in ps), checked as Dovecot would have it.
int cmd_validate(const Options &opts)
{
    std::string token;
    char buf[4096];
    size_t n;
    while (token.size() <= proto::MAX_LINE && (n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        token.append(buf, n);
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
        token.pop_back();
    proto::Response r;
    bool sent = !token.empty() && request(opts, {"1", "VALIDATE", {{"token", token}}}, r);
    wipe(token);
    if (!sent)
        return 1;
    if (r.status != "OK")
        return report_failure(r);
    printf("token %s: user %s, expires %s\n", field(r, "hash").c_str(), field(r, "user").c_str(),
           when(field(r, "expires")).c_str());
    return 0;
}

// Parse options; returns the index of the command word.
int parse_options(int argc, char **argv, Options &opts)
{
    static const struct option longopts[] = {{"show", no_argument, nullptr, 'S'},
                                              {"help", no_argument, nullptr, 'h'},
                                              {nullptr, 0, nullptr, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "+c:s:hV", longopts, nullptr)) != -1) {
        switch (ch) {
        case 'c': opts.config = optarg; break;
        case 's': opts.socket = optarg; break;
        case 'S': opts.show_token = true; break;
        case 'V': printf("exoauthctl %s\n", PACKAGE_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    return optind;
}

} // namespace
} // namespace exo::ctl

int main(int argc, char **argv)
{
    using namespace exo::ctl;
    Options opts;
    opts.config = SYSCONFDIR "/exoauth/exoauthd.conf";
    int i = parse_options(argc, argv, opts);
    std::string error;
    if (!exo::harden_no_dumps(error)) {  // doctor and login hold keys and tokens
        fprintf(stderr, "exoauthctl: %s\n", error.c_str());
        return 1;
    }
    std::string cmd = i < argc ? argv[i] : "";
    std::string arg = i + 1 < argc ? argv[i + 1] : "";
    if (i + 2 < argc && strcmp(argv[i + 2], "--show") == 0)
        opts.show_token = true;
    (void)set_file_owner("", error); // before any config is read
    if (cmd == "status") {
        std::string how = i + 1 < argc ? argv[i + 1] : "";
        StatusFormat format = how == "--json" ? StatusFormat::Json : how == "--nagios" ? StatusFormat::Nagios
                                                                                      : StatusFormat::Table;
        if (!how.empty() && format == StatusFormat::Table) {
            usage(stderr);
            return 3;
        }
        return cmd_status(opts, format);
    }
    if (cmd == "ping")
        return cmd_ping(opts);
    if (cmd == "metrics" && (i + 1 == argc || (i + 3 == argc && strcmp(argv[i + 1], "--output") == 0)))
        return cmd_metrics(opts, i + 3 == argc ? argv[i + 2] : "");
    if (cmd == "doctor")
        return cmd_doctor(opts, argc - i - 1, argv + i + 1);
    if (cmd == "validate")
        return cmd_validate(opts);
    if ((cmd == "token" || cmd == "login") && !arg.empty())
        return cmd == "token" ? cmd_token(opts, arg) : cmd_login(opts, arg);
    usage(stderr);
    return 2;
}
