// lograte.cc: per-kind log rate limiting with summaries (see lograte.hh).
#include "lograte.hh"

namespace exo {

namespace {
const std::string OTHER = "(other kinds)";  // shared slot once max_keys is reached
} // namespace

LogLimiter::LogLimiter(double interval, int burst, size_t max_keys)
    : interval_(interval), burst_(burst), max_keys_(max_keys)
{
}

// Count a line of this kind; true while the burst of its interval lasts.
bool LogLimiter::allow(const std::string &key, double now)
{
    auto it = slots_.find(key);
    if (it == slots_.end()) {
        const std::string &k = slots_.size() < max_keys_ ? key : OTHER;
        it = slots_.try_emplace(k).first;
        if (it->second.logged == 0 && it->second.suppressed == 0)
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
}

} // namespace exo
