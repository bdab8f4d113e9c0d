// verdicts.cc: the auth process's cache of recent acceptances (verdicts.hh).
#include "verdicts.hh"

#include "crypto.hh"
#include "secret.hh"

namespace exo::dovecot {

std::string Verdicts::key(const std::string &login, const std::string &token)
{
    std::string in = login;
    in.push_back('\0');
    in += token;
    std::string k = sha256(in);
    exo::wipe(in);
    return k;
}

const std::string *Verdicts::find(const std::string &key, time_t now)
{
    auto it = map_.find(key);
    if (it == map_.end())
        return nullptr;
    if (it->second.until <= now) {
        map_.erase(it);
        return nullptr;
    }
    return &it->second.user;
}

void Verdicts::make_room(time_t now)
{
    for (auto it = map_.begin(); it != map_.end();)
        it = it->second.until <= now ? map_.erase(it) : std::next(it);
    if (map_.size() >= max_)
        map_.clear();
}

void Verdicts::put(const std::string &key, const std::string &user, time_t expires, time_t now)
{
    if (ttl_ <= 0 || max_ == 0 || expires <= now)
        return;
    if (map_.size() >= max_ && map_.find(key) == map_.end())
        make_room(now);
    time_t until = now + ttl_ < expires ? now + ttl_ : expires;
    map_[key] = Entry{user, until};
}

} // namespace exo::dovecot
