// smtpcheck.cc: `exoauthctl doctor --smtp MAILBOX`: one real SMTP session
// to the relay (by default the cloud's submission host, port 587) as
// Postfix holds it: EHLO, STARTTLS with a verified certificate, AUTH
// XOAUTH2 with a token from exoauthd, NOOP, QUIT; no mail. One verdict per
// step and, for a refusal, what the answer means and its fix
// (smtpanswers.hh). The token goes only into AUTH: it is never printed
// (its hash is), and outgoing protocol lines are never recorded. SMTP goes
// direct: the [idp] proxy is for the IdP only.
#include "ctl.hh"

#include "http.hh"
#include "smtpanswers.hh"
#include "usermap.hh"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <strings.h>
#include <vector>

namespace exo::ctl {

namespace {

constexpr size_t kMaxReplies = 200;
constexpr size_t kMaxReplyLine = 512;
constexpr size_t kNone = SIZE_MAX;

// What the relay said, and where in it STARTTLS and AUTH went out.
struct Trace {
    std::vector<std::string> replies;  // server lines, CR LF stripped
    size_t starttls_at = kNone;        // index of the reply to STARTTLS
    size_t auth_at = kNone;            // index of the first reply to AUTH
};

struct Session {
    CURLcode rc = CURLE_OK;
    std::string error;  // curl's error text
    Trace trace;
};

// Append the reply lines of one chunk the server sent, bounded.
void add_replies(Trace &t, const char *data, size_t size)
{
    std::string chunk(data, size);
    for (size_t at = 0; at < chunk.size() && t.replies.size() < kMaxReplies;) {
        size_t nl = chunk.find('\n', at);
        std::string line = chunk.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
            line.pop_back();
        t.replies.push_back(line.substr(0, kMaxReplyLine));
        at = nl == std::string::npos ? chunk.size() : nl + 1;
    }
}

// Note which command went out, from its verb alone; nothing of it is kept
// (AUTH's line carries the token).
void note_command(Trace &t, const char *data, size_t size)
{
    auto is = [&](const char *verb) { return size >= strlen(verb) && strncasecmp(data, verb, strlen(verb)) == 0; };
    if (is("STARTTLS"))
        t.starttls_at = t.replies.size();
    else if (is("AUTH ") && t.auth_at == kNone)
        t.auth_at = t.replies.size();
}

// curl's debug callback: server lines in, command verbs out, nothing else.
int on_debug(CURL *, curl_infotype type, char *data, size_t size, void *userp)
{
    Trace &t = *static_cast<Trace *>(userp);
    try {
        if (type == CURLINFO_HEADER_IN)
            add_replies(t, data, size);
        else if (type == CURLINFO_HEADER_OUT)
            note_command(t, data, size);
    } catch (...) {  // no exception across curl's C frames
    }
    return 0;
}

// The answer to NOOP arrives as "body": dropped.
size_t on_body(char *, size_t size, size_t n, void *)
{
    return size * n;
}

// The cloud's SMTP submission relay (docs/CLOUDS.md); "" where Microsoft names none.
std::string default_relay(Cloud c)
{
    switch (c) {
    case Cloud::UsGov: return "outlook.office365.us:587";
    case Cloud::UsGovDod: return "outlook-dod.office365.us:587";
    case Cloud::China: return "";
    case Cloud::Worldwide:
    case Cloud::Custom: break;
    }
    return "smtp.office365.com:587";
}

// "host:port", "[host]:port" (Postfix's relayhost form) or "host" (587)
// into an smtp:// URL; false with the reason.
bool relay_url(const std::string &relay, std::string &url, std::string &error)
{
    std::string host = relay, port = "587";
    size_t colon = relay.rfind(':');
    if (colon != std::string::npos && relay.find(':') == colon) {
        host = relay.substr(0, colon);
        port = relay.substr(colon + 1);
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    bool clean = !host.empty() && host.find_first_of("[]/@?# \t\r\n") == std::string::npos;
    if (!digits || !clean || std::stoi(port) == 0 || std::stoi(port) > 65535) {
        error = "--relay " + relay + ": give HOST:PORT, e.g. smtp.office365.com:587";
        return false;
    }
    url = "smtp://" + host + ":" + port;
    return true;
}

// A mailbox as it may go into AUTH: local@domain, no blanks or controls.
bool mailbox_ok(const std::string &m)
{
    size_t at = m.find('@');
    bool printable = std::all_of(m.begin(), m.end(), [](char c) { return c > ' ' && c != 0x7f; });
    return printable && at != std::string::npos && at > 0 && at + 1 < m.size() && m.size() <= 254 &&
           m.find_first_of(",=") == std::string::npos;
}

// The account whose token opens mailbox: --account, else mailbox_map's,
// else the only one; how says which rule chose it.
bool pick_account(const Config &cfg, const SmtpCheck &sc, std::string &account, std::string &how,
                  std::string &error)
{
    if (!sc.account.empty()) {
        account = sc.account, how = "--account";
        error = cfg.find_account(account) ? "" : "no [account " + account + "] in the configuration";
        return error.empty();
    }
    MailboxMap map;
    if (!cfg.mailbox_map.empty() && !mailboxmap_load(cfg.mailbox_map, map, error))
        return false;
    for (const auto &a : cfg.accounts)
        if (mailboxmap_allows(map, a.name, sc.mailbox)) {
            account = a.name, how = "mailbox_map";
            return true;
        }
    if (cfg.accounts.size() == 1 && map.empty()) {
        account = cfg.accounts.front().name, how = "the only account";
        return true;
    }
    error = map.empty() ? "several accounts: name one with --account NAME"
                        : "mailbox_map leads no account to " + sc.mailbox + ": add it, or name one with --account";
    return false;
}

// A token of account for mailbox from exoauthd, as the Postfix plugin asks.
bool get_token(const Options &opts, const std::string &account, const std::string &mailbox, Secret &token,
               std::string &hash, std::string &error)
{
    Client c;
    proto::Response r;
    if (!connect_daemon(opts, c, error) ||
        !c.call({"1", "TOKEN", {{"account", account}, {"mailbox", mailbox}}}, r, opts.timeout_ms, error))
        return false;
    hash = field(r, "hash");
    if (r.status == "OK" && r.get("token"))
        token = Secret(*r.get("token"));
    else
        error = field(r, "code") + ": " + field(r, "reason");
    for (auto &f : r.fields)
        wipe(f.second);
    return !token.empty();
}

// Set the options of the one session: STARTTLS required, TLS >= 1.2,
// verification on, no proxy, AUTH XOAUTH2 as mailbox, then NOOP only.
void set_session_options(CURL *c, const std::string &url, const SmtpCheck &sc, const Secret &token,
                         int timeout_ms, Trace &trace, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp");
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // never the environment's, never [idp] proxy
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!sc.ca_file.empty())
        curl_easy_setopt(c, CURLOPT_CAINFO, sc.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
    curl_easy_setopt(c, CURLOPT_SASL_IR, 1L);
    curl_easy_setopt(c, CURLOPT_USERNAME, sc.mailbox.c_str());
    curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token.str().c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)std::min(timeout_ms, 10000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);  // feeds on_debug only
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &trace);
}

// Hold the session; s gets curl's result and the relay's lines.
void run_session(const std::string &url, const SmtpCheck &sc, const Secret &token, int timeout_ms, Session &s)
{
    CurlPtr c(curl_easy_init());
    if (!c) {
        s.rc = CURLE_OUT_OF_MEMORY, s.error = "curl_easy_init failed";
        return;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    set_session_options(c.get(), url, sc, token, timeout_ms, s.trace, errbuf);
    s.rc = curl_easy_perform(c.get());
    s.error = errbuf[0] ? errbuf : curl_easy_strerror(s.rc);
}

// A failed step: the verdict, then what the answer means and its fix.
void explain(Report &rep, const std::string &what, const std::string &detail, const std::string &key,
             const std::string &reply, const std::string &mailbox)
{
    const SmtpAnswer a = smtp_explain(key, reply);
    rep.line(false, what, detail);
    rep.note("means", std::string(a.temporary ? "temporary (Postfix defers and retries): " : "") + a.meaning);
    rep.note("fix", smtp_fix(a, mailbox));
}

// The key of a failure with no usable reply: a timeout or a lost connection.
std::string transport_key(const Session &s)
{
    return s.rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connect";
}

// The first line of the final reply at or after index i (past 334s), or "".
std::string final_reply(const Trace &t, size_t i)
{
    for (; i < t.replies.size(); i++)
        if (t.replies[i].compare(0, 3, "334") != 0 && t.replies[i].size() > 3 && t.replies[i][3] != '-')
            return t.replies[i];
    return "";
}

// Step 2: STARTTLS accepted and the certificate verified; false if not.
bool report_tls(Report &rep, const Session &s, const std::string &host, const std::string &mailbox)
{
    const Trace &t = s.trace;
    if (t.starttls_at == kNone) {
        explain(rep, "smtp starttls", "the relay offers no STARTTLS (" + s.error + ")", "certificate", "", mailbox);
        return false;
    }
    std::string reply = final_reply(t, t.starttls_at);
    if (!reply.empty() && reply.compare(0, 3, "220") != 0) {
        explain(rep, "smtp starttls", reply, smtp_enhanced_code(reply), reply, mailbox);
        return false;
    }
    if (t.replies.size() <= t.starttls_at + 1) {  // nothing came over TLS
        std::string key = s.rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "certificate";
        explain(rep, "smtp starttls", s.error, key, "", mailbox);
        return false;
    }
    rep.line(true, "smtp starttls", "TLS (1.2 or later) up, certificate verified for " + host);
    return true;
}

// Step 3: AUTH XOAUTH2 accepted.
void report_auth(Report &rep, const Session &s, const std::string &mailbox)
{
    const Trace &t = s.trace;
    if (t.auth_at == kNone) {
        std::string detail = s.rc == CURLE_OK ? "no AUTH was asked for" : "AUTH XOAUTH2 not sent: " + s.error;
        return explain(rep, "smtp auth", detail, transport_key(s), "", mailbox);
    }
    std::string reply = final_reply(t, t.auth_at);
    if (reply.empty())
        return explain(rep, "smtp auth", "no answer to AUTH: " + s.error, transport_key(s), "", mailbox);
    if (reply.compare(0, 3, "235") == 0)
        return rep.line(true, "smtp auth", reply + " (XOAUTH2 as " + mailbox + ")");
    explain(rep, "smtp auth", reply, smtp_enhanced_code(reply), reply, mailbox);
}

// The host part of an smtp://host:port URL.
std::string url_host(const std::string &url)
{
    std::string rest = url.substr(strlen("smtp://"));
    return rest.substr(0, rest.rfind(':'));
}

// Verdicts of the three steps: connect, STARTTLS + certificate, AUTH.
void report_session(Report &rep, const Session &s, const std::string &url, const std::string &mailbox)
{
    const auto &r = s.trace.replies;
    if (r.empty() || r[0].compare(0, 3, "220") != 0) {
        std::string detail = r.empty() ? s.error : r[0];
        explain(rep, "smtp connect", url + ": " + detail, r.empty() ? transport_key(s) : smtp_enhanced_code(r[0]),
                r.empty() ? "" : r[0], mailbox);
        rep.skip("smtp starttls", "not attempted");
        return rep.skip("smtp auth", "not attempted: no token was sent");
    }
    rep.line(true, "smtp connect", url + ": " + r[0]);
    if (!report_tls(rep, s, url_host(url), mailbox))
        return rep.skip("smtp auth", "not attempted: no token was sent");
    report_auth(rep, s, mailbox);
}

} // namespace

// See ctl.hh.
void check_smtp(Report &rep, const Options &opts, const Config &cfg, const SmtpCheck &sc)
{
    std::string relay = sc.relay.empty() ? default_relay(cfg.cloud) : sc.relay, url, account, how, error;
    if (!mailbox_ok(sc.mailbox))
        return rep.line(false, "smtp mailbox", sc.mailbox + ": not a mailbox address", "--smtp user@domain");
    if (relay.empty())
        return rep.line(false, "smtp relay", "Microsoft names no SMTP host for this cloud", "--relay HOST:PORT");
    if (!relay_url(relay, url, error))
        return rep.line(false, "smtp relay", error);
    rep.line(true, "smtp relay",
             url + ", direct" + (cfg.proxy.empty() ? "" : " ([idp] proxy is for the IdP only, not for SMTP)"));
    if (!pick_account(cfg, sc, account, how, error))
        return rep.line(false, "smtp account", error, "exoauthctl doctor --smtp MAILBOX --account NAME");
    Secret token;
    std::string hash;
    if (!get_token(opts, account, sc.mailbox, token, hash, error))
        return rep.line(false, "smtp token " + account, error, "see the token lines above and exoauthd's log");
    rep.line(true, "smtp token " + account, "acquired (" + hash + ") for " + sc.mailbox + ", account by " + how);
    Session s;
    run_session(url, sc, token, opts.timeout_ms, s);
    report_session(rep, s, url, sc.mailbox);
}

} // namespace exo::ctl
