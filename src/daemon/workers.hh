// workers.hh: the threads that do exoauthd's blocking work (HTTPS requests
// to the IdP, store writes) so the event loop never waits. A job runs on a
// worker; its completion runs later on the event-loop thread, woken through
// an eventfd. Only the event loop touches broker state.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exo {

class Workers {
public:
    using Job = std::function<void()>;
    ~Workers() { stop(); }
    // Start n threads and the eventfd the event loop watches.
    bool start(int n, std::string &error);
    // Run job on a worker, then done on the event loop.
    void submit(Job job, Job done);
    // The eventfd that becomes readable when completions are ready.
    int event_fd() const { return efd_; }
    // Run the ready completions (event loop thread only).
    void run_completions();
    // Stop the threads once their current jobs end; queued jobs are dropped.
    void stop();
    size_t queued() const;

private:
    void thread_main();
    struct Item { Job job; Job done; };
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> jobs_;
    std::vector<Job> completions_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
    int efd_ = -1;
};

} // namespace exo
