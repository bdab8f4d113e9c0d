// lru.hh: a bounded map that forgets its least recently used entry first.
// exoauthd keeps validation verdicts in two of them (acceptances and
// refusals apart), so a flood of distinct bad tokens evicts only other
// refusals, never a good acceptance in use. Single-threaded.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace exo {

template <typename V> class LruMap {
public:
    explicit LruMap(size_t max) : max_(max ? max : 1) {}
    // The value of key, marked as just used; nullptr if absent.
    V *find(const std::string &key)
    {
        auto it = index_.find(key);
        if (it == index_.end())
            return nullptr;
        order_.splice(order_.begin(), order_, it->second);
        return &it->second->second;
    }
    // Whether key is present, without marking it used.
    bool contains(const std::string &key) const { return index_.count(key) > 0; }
    // Insert or replace; evicts the least recently used entry when full.
    void put(const std::string &key, V value)
    {
        if (V *v = find(key)) {
            *v = std::move(value);
            return;
        }
        if (index_.size() >= max_) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
        order_.emplace_front(key, std::move(value));
        index_[key] = order_.begin();
    }
    // Drop key if present.
    void erase(const std::string &key)
    {
        auto it = index_.find(key);
        if (it == index_.end())
            return;
        order_.erase(it->second);
        index_.erase(it);
    }
    void clear()
    {
        index_.clear();
        order_.clear();
    }
    size_t size() const { return index_.size(); }

private:
    using Entry = std::pair<std::string, V>;
    size_t max_;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

} // namespace exo
