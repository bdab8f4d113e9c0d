// lograte.cc: per-kind log rate limiting with summaries (see lograte.hh).
#include "lograte.hh"

namespace exo {

namespace {
const std::string OTHER = "(other kinds)";  // where the counts of evicted kinds are told
} // namespace

LogLimiter::LogLimiter(double interval, int burst, size_t max_keys)
    : interval_(interval), burst_(burst), max_keys_(max_keys ? max_keys : 1)
{
}

// Make room for a new kind: the oldest one goes, its untold count is kept
// for the "(other kinds)" summary.
void LogLimiter::evict_oldest()
{
    auto oldest = slots_.begin();
    for (auto it = slots_.begin(); it != slots_.end(); ++it)
        if (it->second.start < oldest->second.start)
            oldest = it;
    other_ += oldest->second.suppressed;
    slots_.erase(oldest);
}

// Count a line of this kind; true while the burst of its interval lasts.
// The first line of a kind is always told, however many kinds there are.
bool LogLimiter::allow(const std::string &key, double now)
{
    auto it = slots_.find(key);
    if (it == slots_.end()) {
        if (slots_.size() >= max_keys_)
            evict_oldest();
        it = slots_.try_emplace(key).first;
        it->second.start = now;
    }
    Slot &s = it->second;
    if (s.logged < burst_) {
        s.logged++;
        return true;
    }
    s.suppressed++;
    return false;
}

// Summaries of ended intervals; their slots are freed.
void LogLimiter::flush(double now, const std::function<void(const std::string &, uint64_t)> &report)
{
    for (auto it = slots_.begin(); it != slots_.end();) {
        if (now - it->second.start < interval_) {
            ++it;
            continue;
        }
        if (it->second.suppressed)
            report(it->first, it->second.suppressed);
        it = slots_.erase(it);
    }
    if (other_ && (slots_.empty() || now - last_other_ >= interval_)) {
        report(OTHER, other_);
        other_ = 0;
        last_other_ = now;
    }
}

} // namespace exo
