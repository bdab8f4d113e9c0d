// policy.cc: authorisation of exoauthd's peers (see policy.hh). Names are
// resolved to ids once per (re)load; a request costs set lookups only.
#include "policy.hh"

#include "log.hh"

#include <algorithm>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <strings.h>
#include <unistd.h>

namespace exo {

namespace {

struct CommandName {
    const char *word;
    unsigned bit;
};
const CommandName kCommandNames[] = {
    {"PING", CMD_PING},         {"STATUS", CMD_STATUS},         {"VALIDATE", CMD_VALIDATE},
    {"TOKEN", CMD_TOKEN},       {"INVALIDATE", CMD_INVALIDATE}, {"LOGIN", CMD_LOGIN},
    {"METRICS", CMD_METRICS},
};

// Numeric id, or -1 if s is not a plain decimal number.
long parse_id(const std::string &s)
{
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit))
        return -1;
    return std::stol(s);
}

// A FAIL line: kind=perm, since asking again changes nothing.
Refusal refuse(const std::string &id, const char *code, const std::string &why)
{
    return Refusal{proto::format_line(id, "FAIL", {{"kind", "perm"}, {"code", code}, {"reason", why}}), why,
                   strcmp(code, "not_allowed") == 0};
}

// "uid N" for messages.
std::string uid_text(const PeerCred &p)
{
    return "uid " + std::to_string(p.uid);
}

// The rights of the built-in rule for Postfix's smtp client (SASL plugin).
Rights postfix_rights()
{
    Rights r;
    r.commands = CMD_PING | CMD_TOKEN | CMD_INVALIDATE;
    r.by_account = true;
    r.all_accounts = true;
    return r;
}

// The rights of the built-in rule for Dovecot's auth process (passdb).
Rights dovecot_rights()
{
    Rights r;
    r.commands = CMD_PING | CMD_VALIDATE | CMD_TOKEN;
    r.by_user = true;
    r.all_accounts = true;
    return r;
}

// Rights written in a [peer] section.
Rights peer_rights(const PeerConfig &pc)
{
    Rights r;
    r.commands = CMD_PING;
    for (const auto &c : pc.commands)
        r.commands |= command_bit(c);
    r.by_account = pc.token_by_account;
    r.by_user = pc.token_by_user;
    for (const auto &a : pc.accounts) {
        if (a == "*")
            r.all_accounts = true;
        else
            r.accounts.insert(a);
    }
    return r;
}

// Add b's rights to a.
void add_rights(Rights &a, const Rights &b)
{
    a.commands |= b.commands;
    a.by_account |= b.by_account;
    a.by_user |= b.by_user;
    a.all_accounts |= b.all_accounts;
    a.accounts.insert(b.accounts.begin(), b.accounts.end());
}

// Command words of a bit set, for messages.
std::string command_words(unsigned bits)
{
    std::string out;
    for (const auto &c : kCommandNames)
        if (bits & c.bit)
            out += (out.empty() ? "" : " ") + std::string(c.word);
    return out;
}

// Resolve names to ids; unknown ones are skipped with a warning.
void resolve_ids(const std::vector<std::string> &users, const std::vector<std::string> &groups,
                 const char *where, std::set<uid_t> &uids, std::set<gid_t> &gids)
{
    for (const auto &u : users) {
        uid_t uid;
        if (lookup_uid(u, uid))
            uids.insert(uid);
        else
            log_warning("%s: no user %s on this system; ignored", where, u.c_str());
    }
    for (const auto &g : groups) {
        gid_t gid;
        if (lookup_gid(g, gid))
            gids.insert(gid);
        else
            log_warning("%s: no group %s on this system; ignored", where, g.c_str());
    }
}

// mailbox_map, whose every account must be a configured one.
bool load_mailbox_map(const Config &cfg, MailboxMap &m, std::string &error)
{
    if (!mailboxmap_load(cfg.mailbox_map, m, error))
        return false;
    for (const auto *table : {&m.users, &m.domains})
        for (const auto &kv : *table)
            if (!cfg.find_account(kv.second.account)) {
                error = "mailbox_map " + cfg.mailbox_map + ": " + kv.first + " names unknown account " +
                        kv.second.account;
                return false;
            }
    return true;
}

} // namespace

// See policy.hh.
unsigned command_bit(std::string_view word)
{
    for (const auto &c : kCommandNames)
        if (word == c.word)
            return c.bit;
    return 0;
}

// uid of a user name or number; false if unknown.
bool lookup_uid(const std::string &name, uid_t &uid)
{
    long n = parse_id(name);
    if (n >= 0) {
        uid = (uid_t)n;
        return true;
    }
    struct passwd *pw = getpwnam(name.c_str());
    if (pw)
        uid = pw->pw_uid;
    return pw != nullptr;
}

// gid of a group name or number; false if unknown.
bool lookup_gid(const std::string &name, gid_t &gid)
{
    long n = parse_id(name);
    if (n >= 0) {
        gid = (gid_t)n;
        return true;
    }
    struct group *gr = getgrnam(name.c_str());
    if (gr)
        gid = gr->gr_gid;
    return gr != nullptr;
}

// The [peer] rules, or the built-in ones for postfix and dovecot.
bool Policy::load_rules(const Config &cfg, std::vector<Rule> &rules, std::string &) const
{
    for (const auto &pc : cfg.peers) {
        Rule r{"[peer " + pc.name + "]", {}, {}, peer_rights(pc)};
        resolve_ids(pc.users, pc.groups, r.name.c_str(), r.uids, r.gids);
        rules.push_back(std::move(r));
    }
    if (!cfg.peers.empty())
        return true;
    struct Builtin {
        const char *user;
        Rights rights;
    } builtins[] = {{"postfix", postfix_rights()}, {"dovecot", dovecot_rights()}};
    for (const auto &b : builtins) {
        uid_t uid;
        if (lookup_uid(b.user, uid))
            rules.push_back(Rule{std::string("built-in rule for ") + b.user, {uid}, {}, b.rights});
    }
    return true;
}

// Resolve the allow-list, the admins and the rules; load mailbox_map.
bool Policy::configure(const Config &cfg, std::string &error)
{
    Policy next;
    resolve_ids(cfg.allow_users, cfg.allow_groups, "allow_users/allow_groups", next.allow_uids_,
                next.allow_gids_);
    for (const auto &u : cfg.admin_users) {
        uid_t uid;
        if (!lookup_uid(u, uid)) {
            error = "admin_users: no user " + u;
            return false;
        }
        next.admins_.insert(uid);
    }
    if (!load_rules(cfg, next.rules_, error))
        return false;
    next.builtin_ = cfg.peers.empty();
    if (!cfg.mailbox_map.empty() && !load_mailbox_map(cfg, next.mailboxes_, error))
        return false;
    *this = std::move(next);
    return true;
}

// Does a rule name this peer (uid, primary or supplementary group)?
bool Policy::matches(const Rule &rule, const PeerCred &p) const
{
    if (rule.uids.count(p.uid) || rule.gids.count(p.gid))
        return true;
    return std::any_of(p.groups.begin(), p.groups.end(), [&](gid_t g) { return rule.gids.count(g) > 0; });
}

// Root, exoauthd's own user, the allow-list, or anyone a rule names.
bool Policy::admits(const PeerCred &p) const
{
    if (p.uid == 0 || p.uid == geteuid() || allow_uids_.count(p.uid) || allow_gids_.count(p.gid))
        return true;
    for (gid_t g : p.groups)
        if (allow_gids_.count(g))
            return true;
    return std::any_of(rules_.begin(), rules_.end(), [&](const Rule &r) { return matches(r, p); });
}

// The union of the rules naming p; root and exoauthd itself may do all.
Rights Policy::rights(const PeerCred &p) const
{
    Rights r;
    r.commands = CMD_PING;
    if (p.uid == 0 || p.uid == geteuid()) {
        r.commands = CMD_ALL;
        r.unrestricted = r.admin = r.by_account = r.by_user = r.all_accounts = true;
        return r;
    }
    if (admins_.count(p.uid)) {
        r.commands |= CMD_LOGIN | CMD_STATUS | CMD_METRICS;
        r.admin = true;
    }
    for (const auto &rule : rules_)
        if (matches(rule, p))
            add_rights(r, rule.rights);
    return r;
}

// The command itself (LOGIN keeps its historic message).
bool Policy::allows(const Rights &r, const PeerCred &p, const proto::Request &req, Refusal &no) const
{
    unsigned bit = command_bit(req.command);
    if (bit == 0 || (r.commands & bit))
        return true;
    if (bit == CMD_LOGIN)
        no = refuse(req.id, "not_allowed", "LOGIN needs root or a user in admin_users");
    else
        no = refuse(req.id, "not_allowed",
                    uid_text(p) + " may not use " + req.command + ": add it to \"commands\" of a [peer] section " +
                        "naming this user (exoauthd.conf(5))");
    return false;
}

// May this peer's request use account?
bool Policy::account_ok(const Rights &r, const PeerCred &p, const proto::Request &req, const std::string &account,
                        Refusal &no) const
{
    if (r.all_accounts || r.accounts.count(account))
        return true;
    no = refuse(req.id, "not_allowed",
                uid_text(p) + " may not use account " + account + ": add it to \"accounts\" of a [peer] section " +
                    "naming this user");
    return false;
}

// Under mailbox_map, an account acts only as the mailboxes the map gives
// it, and a request must say which (only root may leave it out).
bool Policy::mailbox_ok(const Rights &r, const proto::Request &req, const std::string &account, Refusal &no) const
{
    const std::string *mailbox = req.arg("mailbox");
    if (mailboxes_.empty())
        return true;
    if ((!mailbox || mailbox->empty()) && !r.unrestricted) {
        no = refuse(req.id, "not_mapped", "mailbox_map is set: TOKEN account=" + account + " needs mailbox=");
        return false;
    }
    if (mailbox && !mailbox->empty() && !mailboxmap_allows(mailboxes_, account, *mailbox)) {
        no = refuse(req.id, "not_mapped", "mailbox_map does not let account " + account + " act as " + *mailbox);
        return false;
    }
    return true;
}

// TOKEN account=NAME [mailbox=M] | TOKEN user=LOCAL, each form if granted.
bool Policy::token_route(const Rights &r, const PeerCred &p, const proto::Request &req, MailboxRoute &route,
                         Refusal &no) const
{
    const std::string *account = req.arg("account"), *mailbox = req.arg("mailbox"), *user = req.arg("user");
    if (account) {
        if (!r.by_account) {
            no = refuse(req.id, "not_allowed", uid_text(p) + " may not ask TOKEN account=: add \"account\" to " +
                                                   "\"token_by\" of its [peer] section");
            return false;
        }
        route = MailboxRoute{mailbox ? *mailbox : std::string(), *account};
        return account_ok(r, p, req, *account, no) && mailbox_ok(r, req, *account, no);
    }
    if (!user) {
        no = Refusal{proto::format_line(req.id, "ERROR", {{"reason", "missing account or user"}}), ""};
        return false;
    }
    if (!r.by_user) {
        no = refuse(req.id, "not_allowed",
                    uid_text(p) + " may not ask TOKEN user=: add \"user\" to \"token_by\" of its [peer] section");
        return false;
    }
    if (mailboxes_.empty()) {
        no = refuse(req.id, "not_mapped", "no mailbox_map: user " + *user + " has no mailbox");
        return false;
    }
    if (!mailboxmap_route(mailboxes_, *user, route)) {
        no = refuse(req.id, "not_mapped", "mailbox_map has no mailbox for user " + *user);
        return false;
    }
    return account_ok(r, p, req, route.account, no);
}

// INVALIDATE and LOGIN name an account: the peer must be allowed to use it.
bool Policy::account_arg_allowed(const Rights &r, const PeerCred &p, const proto::Request &req, Refusal &no) const
{
    const std::string *account = req.arg("account");
    if (!account || (req.command == "LOGIN" && r.admin))
        return true;
    return account_ok(r, p, req, *account, no);
}

// True when the name a client logged in with names the token's user: the
// claim itself or the local user it maps to, compared without case.
bool Policy::login_matches(const std::string &login, const ValidateReply &r)
{
    return strcasecmp(login.c_str(), r.claim.c_str()) == 0 || strcasecmp(login.c_str(), r.user.c_str()) == 0;
}

// One line per rule, and what applies without [peer] sections.
std::vector<std::string> Policy::describe() const
{
    std::vector<std::string> out;
    for (const auto &rule : rules_) {
        const Rights &r = rule.rights;
        std::string line = rule.name + ": " + command_words(r.commands);
        if (r.commands & CMD_TOKEN)
            line += std::string(" (TOKEN by") + (r.by_account ? " account" : "") + (r.by_user ? " user" : "") + ")";
        line += r.all_accounts ? "; any account" : "; accounts:";
        for (const auto &a : r.accounts)
            line += " " + a;
        out.push_back(line);
    }
    if (builtin_)
        out.push_back("no [peer] section: the built-in rules above apply; any other allowed user may only PING "
                      "(admin_users also LOGIN, STATUS and METRICS). Add [peer NAME] sections to grant more "
                      "(exoauthd.conf(5))");
    return out;
}

} // namespace exo
