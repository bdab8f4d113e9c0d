// verdicts.hh: the tokens exoauthd accepted lately, kept in Dovecot's auth
// process so that a client opening several connections with one token
// (Thunderbird, Outlook) asks exoauthd once. Only acceptances are kept,
// keyed by SHA-256 of login and token (never the token), each until the
// earlier of the token's expiry and a short TTL. Pure C++, no Dovecot.
#pragma once

#include <cstddef>
#include <ctime>
#include <string>
#include <unordered_map>

namespace exo::dovecot {

class Verdicts {
public:
    Verdicts(size_t max_entries, time_t ttl) : max_(max_entries), ttl_(ttl) {}

    // The cache key of a login with a token.
    static std::string key(const std::string &login, const std::string &token);

    // The user an unexpired acceptance names, or nullptr.
    const std::string *find(const std::string &key, time_t now);

    // Keep an acceptance until min(expires, now + ttl). Does nothing when
    // the TTL is 0 or the token is already expired. When full, expired
    // entries go first, then everything (a bounded, simple policy).
    void put(const std::string &key, const std::string &user, time_t expires, time_t now);

    size_t size() const { return map_.size(); }

private:
    struct Entry {
        std::string user;
        time_t until;
    };
    void make_room(time_t now);
    size_t max_;
    time_t ttl_;
    std::unordered_map<std::string, Entry> map_;
};

} // namespace exo::dovecot
