// usermap.hh: the two mapping files, both "words per line", blank
// separated, '#' comments, at most 100,000 entries, matched without regard
// to case, and parsed strictly (a bad line refuses the whole file with
// path:line):
//  - user_map of [validate]: "<claim value> <user>";
//  - mailbox_map of [global], the proxy and relay policy:
//    "<local user> <mailbox> <account>", or "@<domain> @<domain> <account>"
//    to rewrite a whole domain. Who is not in it gets no mailbox (default
//    deny): an app-only token opens every mailbox the app was granted, so
//    this table is what keeps a local user to its own.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace exo {

using UserMap = std::unordered_map<std::string, std::string>;

// Parse text (as read from path). False with "path:line: reason".
bool usermap_parse(std::string_view text, const std::string &path, UserMap &out, std::string &error);

// Read (at most 1 MiB) and parse path.
bool usermap_load(const std::string &path, UserMap &out, std::string &error);

// The mapped user of claim value, or the value itself when unmapped.
std::string usermap_apply(const UserMap &map, const std::string &value);

struct MailboxRoute {
    std::string mailbox;  // the Exchange mailbox (for a domain entry "@domain")
    std::string account;  // the [account NAME] whose token opens it
};

struct MailboxMap {
    std::unordered_map<std::string, MailboxRoute> users;    // lower(user) -> route
    std::unordered_map<std::string, MailboxRoute> domains;  // lower("@domain") -> {"@target", account}
    std::unordered_set<std::string> allowed;  // lower(mailbox or "@domain") + TAB + account
    bool empty() const { return users.empty() && domains.empty(); }
};

bool mailboxmap_parse(std::string_view text, const std::string &path, MailboxMap &out, std::string &error);
bool mailboxmap_load(const std::string &path, MailboxMap &out, std::string &error);

// The mailbox and account of a local user: its own entry, else its
// domain's rewrite. False when the map gives it none.
bool mailboxmap_route(const MailboxMap &map, const std::string &user, MailboxRoute &out);

// May account act as mailbox: does any entry lead there through it?
bool mailboxmap_allows(const MailboxMap &map, const std::string &account, const std::string &mailbox);

} // namespace exo
