// doctor.cc: `exoauthctl doctor`, a check of a whole exoauth set-up, one
// line per check: OK, or FAIL with the reason and what to do about it.
// Configuration, credentials, state directory, exoauthd's socket, the IdP
// (HTTPS with verification, through the configured CA, direct or through
// the [idp] proxy), a token per account acquired through exoauthd and,
// with --smtp MAILBOX, one real session to the SMTP relay (smtpcheck.cc).
#include "ctl.hh"

#include "credfile.hh"
#include "crypto.hh"
#include "entra.hh"
#include "http.hh"

#include <cstdio>
#include <ctime>
#include <openssl/asn1.h>

namespace exo::ctl {

// See ctl.hh.
void Report::line(bool ok, const std::string &what, const std::string &detail, const std::string &fix)
{
    printf("%-4s  %-22s %s\n", ok ? "OK" : "FAIL", what.c_str(), detail.c_str());
    if (!ok && !fix.empty())
        note("fix", fix);
    failures += ok ? 0 : 1;
}

// See ctl.hh.
void Report::skip(const std::string &what, const std::string &detail)
{
    printf("%-4s  %-22s %s\n", "SKIP", what.c_str(), detail.c_str());
}

// See ctl.hh.
void Report::note(const std::string &label, const std::string &text)
{
    printf("      %-22s %s: %s\n", "", label.c_str(), text.c_str());
}

namespace {

// Days until the certificate expires (negative when expired).
int cert_days_left(X509 *cert)
{
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert));
    return days;
}

// The account's credential loads and is not about to expire.
void check_credential(Report &rep, const AccountConfig &a)
{
    std::string what = "credential " + a.name;
    if (a.credential == Credential::Certificate) {
        CertCredential cred;
        std::string error;
        if (!load_cert_credential(a.certificate, a.private_key, cred, error))
            return rep.line(false, what, error, "check certificate/private_key paths and that they match");
        int days = cert_days_left(cred.cert.get());
        rep.line(days > 14, what,
                 "certificate " + a.certificate + " (x5t#S256 " + cred.x5t_s256.substr(0, 12) +
                     "...), expires in " + std::to_string(days) + " days",
                 "renew it and upload the new certificate to the app registration");
    } else if (a.credential == Credential::Secret) {
        Secret s;
        std::string error;
        bool ok = read_secret_file(a.secret_file, s, error);
        rep.line(ok, what, ok ? "secret_file " + a.secret_file : error,
                 "create it, owned by exoauthd's user or root, chmod 600");
    } else {
        rep.line(true, what, "public client (no credential)");
    }
}

// Discovery document over HTTPS: reachability and TLS verification.
void check_idp(Report &rep, const Config &cfg, const AccountConfig &a)
{
    HttpClient http(idp_http_options(cfg));
    HttpResponse resp;
    std::string error;
    std::string url = cfg.authority + "/" + a.tenant + "/v2.0/.well-known/openid-configuration";
    if (!http.get(url, resp, error))
        return rep.line(false, "idp " + a.tenant, error, "check [idp] authority");
    if (resp.status == 0)
        return rep.line(false, "idp " + a.tenant, "unreachable: " + resp.error,
                        "allow HTTPS to " + cfg.authority +
                            " (firewall, DNS, or set [idp] proxy if only a proxy gets out); check ca_file");
    rep.line(resp.status == 200, "idp " + a.tenant,
             "HTTPS " + std::to_string(resp.status) + " from " + cfg.authority + " (TLS verified)",
             "is the tenant right? (" + a.tenant + ")");
}

// Which path requests to the IdP take: direct or the [idp] proxy.
void check_route(Report &rep, const Config &cfg)
{
    HttpOptions o = idp_http_options(cfg);
    rep.line(true, "idp route",
             idp_route(o) + (o.proxy.empty() ? " (no [idp] proxy; proxy variables of the environment are ignored)"
                                            : ""));
}

// A token through exoauthd, as a mail server would get it.
void check_token(Report &rep, const Options &opts, const AccountConfig &a)
{
    Client c;
    std::string error;
    proto::Response r;
    if (!connect_daemon(opts, c, error) ||
        !c.call({"1", "TOKEN", {{"account", a.name}}}, r, opts.timeout_ms, error))
        return rep.line(false, "token " + a.name, error);
    const std::string *reason = r.get("reason");
    const std::string *hash = r.get("hash");
    bool login = r.get("code") && *r.get("code") == "no_refresh_token";
    rep.line(r.status == "OK", "token " + a.name,
             r.status == "OK" ? "acquired (" + (hash ? *hash : std::string("?")) + ")"
                              : (reason ? *reason : r.status),
             login ? "exoauthctl login " + a.name : "see exoauthd's log for the IdP's answer");
    for (auto &f : r.fields)
        wipe(f.second);
}

// doctor's own options (ctl.hh, SmtpCheck); false with the reason.
bool parse_doctor_args(int argc, char **argv, SmtpCheck &sc, std::string &error)
{
    for (int i = 0; i < argc; i += 2) {
        std::string k = argv[i];
        std::string *dst = k == "--smtp" ? &sc.mailbox : k == "--account" ? &sc.account
                         : k == "--relay" ? &sc.relay : k == "--ca-file" ? &sc.ca_file : nullptr;
        if (!dst || i + 1 >= argc || !*argv[i + 1]) {
            error = dst ? k + " needs a value" : "unknown doctor option " + k;
            return false;
        }
        *dst = argv[i + 1];
    }
    if (sc.mailbox.empty() && !(sc.account + sc.relay + sc.ca_file).empty()) {
        error = "--account, --relay and --ca-file go with --smtp MAILBOX";
        return false;
    }
    return true;
}

} // namespace

// exoauthctl doctor [--smtp MAILBOX ...]
int cmd_doctor(const Options &opts, int argc, char **argv)
{
    Report rep;
    Config cfg;
    SmtpCheck sc;
    std::string error;
    if (!parse_doctor_args(argc, argv, sc, error)) {
        fprintf(stderr, "exoauthctl: doctor: %s\n", error.c_str());
        return 2;
    }
    if (!config_load(opts.config, cfg, error)) {
        rep.line(false, "config", error, "fix the line named, then run exoauthctl doctor again");
        return 1;
    }
    rep.line(true, "config", opts.config + ": " + std::to_string(cfg.accounts.size()) + " accounts");
    if (!set_file_owner(cfg.user, error))
        rep.line(false, "user", error, "create the user, or fix \"user =\"");
    bool sd = cred_check_dir(cfg.state_dir, "state_dir", error);
    rep.line(sd, "state_dir", sd ? cfg.state_dir : error,
             "mkdir -m 0700 " + cfg.state_dir + " owned by exoauthd's user");
    for (const auto &a : cfg.accounts)
        check_credential(rep, a);
    Client c;
    bool up = connect_daemon(opts, c, error);
    rep.line(up, "socket", up ? socket_path(opts) + " answers" : error, "systemctl start exoauthd");
    check_route(rep, cfg);
    if (!cfg.accounts.empty())
        check_idp(rep, cfg, cfg.accounts.front());
    for (const auto &a : cfg.accounts)
        if (up)
            check_token(rep, opts, a);
    if (!sc.mailbox.empty())
        check_smtp(rep, opts, cfg, sc);
    printf(rep.failures ? "\n%d check(s) failed.\n"
                        : "\nAll checks passed. Next: point Postfix and Dovecot at exoauthd (see the README).\n",
           rep.failures);
    return rep.failures ? 1 : 0;
}

} // namespace exo::ctl
