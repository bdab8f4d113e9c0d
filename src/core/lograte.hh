// lograte.hh: keeps a hostile or broken peer from flooding the log. Lines of
// one kind (a key such as "refused uid=65534") are logged up to a burst per
// interval; the rest are counted and reported as one summary line when the
// interval ends. The first line of each kind is never dropped: past
// max_keys kinds the oldest is evicted and its count told as "(other kinds)". Used by
// exoauthd's event loop (single thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace exo {

class LogLimiter {
public:
    LogLimiter(double interval, int burst, size_t max_keys);
    // True when a line of this kind may be logged now; false when it was
    // counted for the summary instead.
    bool allow(const std::string &key, double now);
    // Report (key, suppressed count) for every interval that has ended, and
    // forget those intervals.
    void flush(double now, const std::function<void(const std::string &, uint64_t)> &report);
    double interval() const { return interval_; }

private:
    struct Slot {
        double start = 0;
        int logged = 0;
        uint64_t suppressed = 0;
    };
    void evict_oldest();
    double interval_;
    int burst_;
    size_t max_keys_;
    std::map<std::string, Slot> slots_;
    uint64_t other_ = 0;       // untold lines of kinds evicted to make room
    double last_other_ = -1e300;
};

} // namespace exo
