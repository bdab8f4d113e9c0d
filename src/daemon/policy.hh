// policy.hh: who may do what through exoauthd's sockets. Every peer is
// hostile until its SO_PEERCRED says otherwise: a peer may connect when
// it is root, exoauthd's own user, on allow_users/allow_groups or in a
// [peer] section, and may then use only the commands and accounts its
// [peer] sections (or the built-in rights for postfix and dovecot when
// there are none) give it. mailbox_map decides which mailbox a TOKEN acts
// as. Used by the event loop (server.cc); decisions are pure lookups.
#pragma once

#include "config.hh"
#include "protocol.hh"
#include "usermap.hh"
#include "validator.hh"

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace exo {

// Who is at the other end of a connection, from SO_PEERCRED and
// SO_PEERGROUPS at accept (kept to re-check the peer on reload).
struct PeerCred {
    pid_t pid = 0;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    std::vector<gid_t> groups;
};

// Commands, as bits of Rights::commands.
enum Command : unsigned {
    CMD_PING = 1u << 0,
    CMD_STATUS = 1u << 1,
    CMD_VALIDATE = 1u << 2,
    CMD_TOKEN = 1u << 3,
    CMD_INVALIDATE = 1u << 4,
    CMD_LOGIN = 1u << 5,
    CMD_METRICS = 1u << 6,  // figures only: never a token, a secret or a token hash
    CMD_ALL = (1u << 7) - 1,
};

// What one peer may do: the union of every rule that names it.
struct Rights {
    unsigned commands = 0;
    bool by_account = false;        // TOKEN account=NAME
    bool by_user = false;           // TOKEN user=LOCAL (routed by mailbox_map)
    bool all_accounts = false;      // accounts = *
    bool unrestricted = false;      // root or exoauthd itself: no rule applies
    bool admin = false;             // admin_users: LOGIN on any account
    std::set<std::string> accounts; // otherwise only these
};

// A request turned down: the line to answer and the reason to log.
struct Refusal {
    std::string line;
    std::string why;
    bool missing_right = false;  // not_allowed (else a policy answer such as not_mapped)
};

// The bit of a protocol command word, 0 if none.
unsigned command_bit(std::string_view word);

// uid of a user name or number; false if unknown.
bool lookup_uid(const std::string &name, uid_t &uid);
// gid of a group name or number; false if unknown.
bool lookup_gid(const std::string &name, gid_t &gid);

class Policy {
public:
    // Resolve names to ids and load mailbox_map. False with a reason; the
    // previous policy stays in force then.
    bool configure(const Config &cfg, std::string &error);
    // May this peer connect at all?
    bool admits(const PeerCred &p) const;
    // Its rights (call after admits).
    Rights rights(const PeerCred &p) const;
    // May it use this command at all?
    bool allows(const Rights &r, const PeerCred &p, const proto::Request &req, Refusal &no) const;
    // Which account serves a TOKEN, as which mailbox.
    bool token_route(const Rights &r, const PeerCred &p, const proto::Request &req, MailboxRoute &route,
                     Refusal &no) const;
    // May INVALIDATE (or LOGIN) name this account? LOGIN on any account is
    // for root and admin_users; a [peer] that lists LOGIN gets its accounts.
    bool account_arg_allowed(const Rights &r, const PeerCred &p, const proto::Request &req, Refusal &no) const;
    // Does the login name a client gave belong to the token's user?
    static bool login_matches(const std::string &login, const ValidateReply &r);
    // For the start log: what the rules grant, in words.
    std::vector<std::string> describe() const;

private:
    struct Rule {
        std::string name;            // [peer NAME], or "built-in postfix"
        std::set<uid_t> uids;
        std::set<gid_t> gids;
        Rights rights;
    };
    bool matches(const Rule &rule, const PeerCred &p) const;
    bool account_ok(const Rights &r, const PeerCred &p, const proto::Request &req, const std::string &account,
                    Refusal &no) const;
    bool mailbox_ok(const Rights &r, const proto::Request &req, const std::string &account, Refusal &no) const;
    bool load_rules(const Config &cfg, std::vector<Rule> &rules, std::string &error) const;

    std::set<uid_t> allow_uids_;
    std::set<gid_t> allow_gids_;
    std::set<uid_t> admins_;
    std::vector<Rule> rules_;
    bool builtin_ = false;   // no [peer] sections: the built-in rules apply
    MailboxMap mailboxes_;   // empty when mailbox_map is not configured
};

} // namespace exo
