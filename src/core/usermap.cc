// usermap.cc: the user_map file of [validate] and the mailbox_map (see
// usermap.hh). Both decide who gets whose token, so both are read under
// credfile.hh's rule for policy files (owner root or exoauthd's user).
#include "usermap.hh"

#include "credfile.hh"
#include "protocol.hh"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

namespace exo {

namespace {
constexpr size_t MAX_ENTRIES = 100000;
constexpr size_t MAX_FILE = 1024 * 1024;
constexpr size_t MAX_WORD = 256;

// Lower-case ASCII copy.
std::string lower(std::string_view s)
{
    std::string r(s);
    for (char &c : r)
        c = (char)tolower((unsigned char)c);
    return r;
}

// Split a line into blank-separated words.
std::vector<std::string_view> words(std::string_view line)
{
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i > start)
            out.push_back(line.substr(start, i - start));
    }
    return out;
}

// Run parse over every line of text, stopping at the first bad one.
template <class LineFn>
bool parse_lines(std::string_view text, const std::string &path, std::string &error, LineFn parse)
{
    size_t pos = 0;
    for (int n = 1; pos <= text.size(); n++) {
        size_t end = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        std::string why;
        if (!parse(line, why)) {
            error = path + ":" + std::to_string(n) + ": " + why;
            return false;
        }
        pos = end + 1;
    }
    return true;
}

// One line into map; false with a reason.
bool parse_line(std::string_view line, UserMap &map, std::string &why)
{
    auto w = words(line);
    if (w.empty() || w[0][0] == '#')
        return true;
    if (w.size() != 2) {
        why = "expected \"<claim value> <user>\"";
        return false;
    }
    if (!proto::value_ok(w[0]) || !proto::value_ok(w[1]) || w[0].size() > MAX_WORD || w[1].size() > MAX_WORD) {
        why = "control character or over-long value";
        return false;
    }
    if (map.size() >= MAX_ENTRIES) {
        why = "more than 100000 entries";
        return false;
    }
    map[lower(w[0])] = std::string(w[1]);
    return true;
}
// "local@domain" with both parts present, or "@domain" when domain_only.
bool address_ok(std::string_view a, bool domain_only)
{
    size_t at = a.find('@');
    if (at == std::string_view::npos || a.find('@', at + 1) != std::string_view::npos || at + 1 == a.size())
        return false;
    return domain_only ? at == 0 : at > 0;
}

// An [account NAME]: 1 to 64 of A-Z a-z 0-9 . _ @ -.
bool account_ok(std::string_view a)
{
    if (a.empty() || a.size() > 64)
        return false;
    for (char c : a)
        if (!isalnum((unsigned char)c) && !strchr("._@-", c))
            return false;
    return true;
}

// One mailbox_map line into map; false with a reason.
bool parse_mailbox_line(std::string_view line, MailboxMap &map, std::string &why)
{
    auto w = words(line);
    if (w.empty() || w[0][0] == '#')
        return true;
    if (w.size() != 3) {
        why = "expected \"<local user> <mailbox> <account>\" or \"@<domain> @<domain> <account>\"";
        return false;
    }
    for (auto word : w)
        if (!proto::value_ok(word) || word.size() > MAX_WORD) {
            why = "control character or over-long value";
            return false;
        }
    bool domain = w[0][0] == '@';
    if (domain ? !address_ok(w[0], true) || !address_ok(w[1], true) : !address_ok(w[1], false)) {
        why = domain ? "a domain entry maps @domain to @domain" : "the mailbox must be local@domain";
        return false;
    }
    if (w[0].size() > 1 && w[0].find('@', 1) != std::string_view::npos && !address_ok(w[0], false)) {
        why = "bad local user";
        return false;
    }
    if (!account_ok(w[2])) {
        why = "bad account name";
        return false;
    }
    auto &table = domain ? map.domains : map.users;
    std::string key = lower(w[0]);
    if (table.count(key)) {
        why = "duplicate entry for " + key;
        return false;
    }
    if (map.users.size() + map.domains.size() >= MAX_ENTRIES) {
        why = "more than 100000 entries";
        return false;
    }
    table[key] = MailboxRoute{std::string(w[1]), std::string(w[2])};
    map.allowed.insert(lower(w[1]) + "\t" + std::string(w[2]));
    return true;
}

} // namespace

bool usermap_parse(std::string_view text, const std::string &path, UserMap &out, std::string &error)
{
    UserMap map;
    if (!parse_lines(text, path, error, [&map](std::string_view line, std::string &why) {
            return parse_line(line, map, why);
        }))
        return false;
    out = std::move(map);
    return true;
}

bool usermap_load(const std::string &path, UserMap &out, std::string &error)
{
    static const CredRule rule{"user_map", CredKind::Policy, MAX_FILE};
    Secret text;
    return cred_read(path, rule, text, error) && usermap_parse(text.str(), path, out, error);
}

// Mapped name, matched without regard to case.
std::string usermap_apply(const UserMap &map, const std::string &value)
{
    auto it = map.find(lower(value));
    return it == map.end() ? value : it->second;
}

bool mailboxmap_parse(std::string_view text, const std::string &path, MailboxMap &out, std::string &error)
{
    MailboxMap map;
    if (!parse_lines(text, path, error, [&map](std::string_view line, std::string &why) {
            return parse_mailbox_line(line, map, why);
        }))
        return false;
    out = std::move(map);
    return true;
}

bool mailboxmap_load(const std::string &path, MailboxMap &out, std::string &error)
{
    static const CredRule rule{"mailbox_map", CredKind::Policy, MAX_FILE};
    Secret text;
    return cred_read(path, rule, text, error) && mailboxmap_parse(text.str(), path, out, error);
}

bool mailboxmap_route(const MailboxMap &map, const std::string &user, MailboxRoute &out)
{
    std::string key = lower(user);
    auto it = map.users.find(key);
    if (it != map.users.end()) {
        out = it->second;
        return true;
    }
    size_t at = key.find('@');
    if (at == std::string::npos || at == 0)
        return false;
    auto d = map.domains.find(key.substr(at));
    if (d == map.domains.end())
        return false;
    out = MailboxRoute{user.substr(0, at) + d->second.mailbox, d->second.account};
    return true;
}

bool mailboxmap_allows(const MailboxMap &map, const std::string &account, const std::string &mailbox)
{
    if (!address_ok(mailbox, false))
        return false;
    std::string m = lower(mailbox);
    return map.allowed.count(m + "\t" + account) || map.allowed.count(m.substr(m.find('@')) + "\t" + account);
}

} // namespace exo
