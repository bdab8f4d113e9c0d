// handlers.cc: exoauthd's commands (docs/PROTOCOL.md), each checked
// against the peer's rights (policy.hh) before it runs: TOKEN and
// INVALIDATE through the broker, VALIDATE through the validator, STATUS,
// LOGIN, METRICS. Answers go through the Replier (the event loop, server.cc).
#include "exoauth_config.h"

#include "handlers.hh"

#include "clock.hh"
#include "crypto.hh"
#include "log.hh"
#include "registry.hh"
#include "secret.hh"

namespace exo {

Handlers::Handlers(Broker &broker, Validator &validator, const Policy &policy, Replier &out)
    : broker_(broker), validator_(validator), policy_(policy), out_(out)
{
}

// Send a refusal of the policy, and log it (rate limited per peer): a
// missing right as a warning, a mailbox the map does not give as info.
void Handlers::refuse(Connection &c, const proto::Request &req, const Refusal &no)
{
    out_.send(c, no.line);
    if (no.why.empty() || !out_.log_allowed("refused requests of uid=" + std::to_string(c.peer.uid)))
        return;
    if (no.missing_right)
        log_warning("%s: %s refused: %s", c.who.c_str(), req.command.c_str(), no.why.c_str());
    else
        log_info("%s refused: %s", req.command.c_str(), no.why.c_str());
}

// Count a TOKEN or VALIDATE the policy turned down (or that lacked a field).
void Handlers::count_refusal(const proto::Request &req, const Refusal &no, double started)
{
    std::string code = no.missing_right ? "not_allowed" : no.why.empty() ? "error" : "not_mapped";
    if (req.command == "TOKEN")
        daemon_metrics().count_token(code, mono_now() - started);
    else if (req.command == "VALIDATE")
        daemon_metrics().count_validate(code, false, "", mono_now() - started);
}

// Route a parsed request to its command, if the peer may use it.
void Handlers::dispatch(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    Refusal no;
    if (!policy_.allows(c->rights, c->peer, req, no)) {
        count_refusal(req, no, mono_now());
        return refuse(*c, req, no);
    }
    if (req.command == "TOKEN")
        cmd_token(c, req);
    else if (req.command == "PING")
        out_.send(*c, proto::format_line(req.id, "OK", {}));
    else if (req.command == "INVALIDATE")
        cmd_invalidate(c, req);
    else if (req.command == "STATUS")
        cmd_status(c, req);
    else if (req.command == "LOGIN")
        cmd_login(c, req);
    else if (req.command == "VALIDATE")
        cmd_validate(c, req);
    else if (req.command == "METRICS")
        cmd_metrics(c, req);
    else
        out_.send(*c, proto::format_line(req.id, "ERROR", {{"reason", "unknown command"}}));
}

// The FAIL line of a failed reply.
static std::string fail_line(const std::string &id, const TokenReply &r)
{
    proto::Fields f = {{"kind", r.temporary ? "temp" : "perm"}, {"code", r.code}, {"reason", r.reason}};
    if (r.retry_after > 0)
        f.emplace_back("retry_after", std::to_string(r.retry_after));
    return proto::format_line(id, "FAIL", f);
}

// The OK line of a TOKEN (a secret: it carries the token); a routed
// request also learns its mailbox and account.
static Secret token_line(const std::string &id, const TokenReply &r, const MailboxRoute *route)
{
    proto::Fields f = {{"token", r.token.str()}, {"expires", std::to_string(r.expires)}, {"hash", r.hash}};
    if (route) {
        f.emplace_back("mailbox", route->mailbox);
        f.emplace_back("account", route->account);
    }
    Secret line(proto::format_line(id, "OK", f));
    proto::wipe_value(f, "token");
    return line;
}

// TOKEN account=NAME [mailbox=M] | TOKEN user=LOCAL
void Handlers::cmd_token(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    double started = mono_now();
    MailboxRoute route;
    Refusal no;
    if (!policy_.token_route(c->rights, c->peer, req, route, no)) {
        count_refusal(req, no, started);
        return refuse(*c, req, no);
    }
    c->in_flight++;
    std::weak_ptr<Connection> weak = c;
    std::string id = req.id;
    bool routed = req.arg("user") && !req.arg("account");
    broker_.get_token(route.account, [this, weak, id, route, routed, started](const TokenReply &r) {
        daemon_metrics().count_token(r.ok ? "ok" : r.code, mono_now() - started);
        auto conn = weak.lock();
        if (!conn || conn->closed)
            return;
        if (r.ok) {
            out_.send(*conn, token_line(id, r, routed ? &route : nullptr).str());
        } else {
            out_.send(*conn, fail_line(id, r));
        }
        out_.finish_request(conn);
    });
}

// INVALIDATE account=NAME hash=HEX
void Handlers::cmd_invalidate(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    const std::string *account = req.arg("account");
    const std::string *hash = req.arg("hash");
    if (!account || !hash) {
        out_.send(*c, proto::format_line(req.id, "ERROR", {{"reason", "missing account or hash"}}));
        return;
    }
    Refusal no;
    if (!policy_.account_arg_allowed(c->rights, c->peer, req, no))
        return refuse(*c, req, no);
    std::string why;
    bool dropped = broker_.invalidate(*account, *hash, why);
    proto::Fields f = {{"dropped", dropped ? "yes" : "no"}};
    if (!dropped)
        f.emplace_back("reason", why);
    out_.send(*c, proto::format_line(req.id, "OK", f));
}

// STATUS: one ACCOUNT line per account, then the daemon's figures.
void Handlers::cmd_status(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    ServerFigures f = out_.figures();
    for (const auto &account : broker_.status())
        out_.send(*c, proto::format_line(req.id, "ACCOUNT", account));
    out_.send(*c, proto::format_line(req.id, "OK",
                                {{"version", PACKAGE_VERSION},
                                 {"uptime", std::to_string((long)f.uptime)},
                                 {"connections", std::to_string(f.connections)},
                                 {"requests", std::to_string(f.requests)},
                                 {"idp_requests", std::to_string(broker_.idp_requests())},
                                 {"validation_keys", std::to_string(validator_.keys())},
                                 {"key_fetches", std::to_string(validator_.fetches())}}));
}

// METRICS: the Prometheus text exposition, one METRIC line per line of
// it. Figures only: no token, secret or token hash is in it.
void Handlers::cmd_metrics(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    std::string text = render_metrics(daemon_metrics(), broker_.figures(), validator_, out_.figures());
    const std::string prefix = req.id + "\tMETRIC\ttext=";  // format_line's, without a Fields per line
    std::string answer;  // one send for the whole answer, not one per line
    answer.reserve(text.size() * 6 / 5 + 64);
    std::string_view rest = text;
    while (!rest.empty()) {
        size_t end = std::min(rest.find('\n'), rest.size());
        std::string_view line = rest.substr(0, end);
        answer.append(prefix);
        if (proto::value_ok(line))
            answer.append(line);
        else
            answer.append(proto::sanitize(line, proto::MAX_LINE));
        answer += '\n';
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    answer += proto::format_line(req.id, "OK", {});
    out_.send(*c, answer);
}

// The answer line of a VALIDATE: OK with the user, or FAIL with a reason.
static std::string validate_line(const std::string &id, const std::string &hash, const ValidateReply &r)
{
    if (r.ok)
        return proto::format_line(id, "OK", {{"user", r.user}, {"expires", std::to_string(r.expires)},
                                             {"hash", hash}});
    return proto::format_line(id, "FAIL", {{"kind", r.temporary ? "temp" : "perm"}, {"code", r.code},
                                           {"reason", r.reason}, {"hash", hash}});
}

// VALIDATE token=JWT [login=NAME]: a client's bearer token, checked locally.
// With login (the user name the client authenticated as) the token must
// belong to that user: a token of alice never opens bob's mailbox.
void Handlers::cmd_validate(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    double started = mono_now();
    const std::string *token = req.arg("token");
    if (!token) {
        daemon_metrics().count_validate("error", false, "", 0);
        out_.send(*c, proto::format_line(req.id, "ERROR", {{"reason", "missing token"}}));
        return;
    }
    const std::string *login_arg = req.arg("login");
    std::string login = login_arg ? *login_arg : std::string();
    bool check_login = login_arg != nullptr;
    c->in_flight++;
    std::weak_ptr<Connection> weak = c;
    std::string id = req.id, digest = hex(sha256(*token)), hash = digest.substr(0, 12);
    validator_.validate(*token, digest, [this, weak, id, hash, login, check_login,
                                         started](const ValidateReply &verdict) {
        ValidateReply r = verdict;
        if (r.ok && check_login && !Policy::login_matches(login, r)) {
            r = ValidateReply{};
            r.code = "invalid_token";
            r.reason = "token belongs to " + verdict.claim + ", not " + login;
        }
        daemon_metrics().count_validate(r.ok ? "ok" : r.code, r.temporary, r.reason, mono_now() - started);
        auto conn = weak.lock();
        if (!conn || conn->closed)
            return;
        if (!r.ok && out_.log_allowed("token refusals (" + r.code + ") for uid=" + std::to_string(conn->peer.uid)))
            log_info("token %s refused: %s", hash.c_str(), r.reason.c_str());
        out_.send(*conn, validate_line(id, hash, r));
        out_.finish_request(conn);
    });
}

// LOGIN account=NAME (admins only): device-code sign-in.
void Handlers::cmd_login(const std::shared_ptr<Connection> &c, const proto::Request &req)
{
    const std::string *account = req.arg("account");
    if (!account) {
        out_.send(*c, proto::format_line(req.id, "ERROR", {{"reason", "missing account"}}));
        return;
    }
    Refusal no;
    if (!policy_.account_arg_allowed(c->rights, c->peer, req, no))
        return refuse(*c, req, no);
    c->in_flight++;
    std::weak_ptr<Connection> weak = c;
    std::string id = req.id;
    auto pending = [this, weak, id](const LoginPending &p) {
        if (auto conn = weak.lock(); conn && !conn->closed)
            out_.send(*conn, proto::format_line(id, "PENDING",
                                           {{"user_code", p.user_code},
                                            {"verification_uri", p.verification_uri},
                                            {"expires_in", std::to_string(p.expires_in)},
                                            {"message", proto::sanitize(p.message)}}));
    };
    auto done = [this, weak, id](const TokenReply &r) {
        auto conn = weak.lock();
        if (!conn || conn->closed)
            return;
        out_.send(*conn, r.ok ? proto::format_line(id, "OK", {{"expires", std::to_string(r.expires)}})
                         : fail_line(id, r));
        out_.finish_request(conn);
    };
    auto wanted = [weak] {
        auto conn = weak.lock();
        return conn && !conn->closed;
    };
    broker_.login(*account, pending, done, wanted);
}

} // namespace exo
