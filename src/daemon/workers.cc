// workers.cc: the worker pool of exoauthd (see workers.hh). Jobs are taken
// in order; each completion is queued for the event loop and signalled with
// one eventfd write.
#include "workers.hh"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

namespace exo {

// Create the eventfd and the threads.
bool Workers::start(int n, std::string &error)
{
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd_ < 0) {
        error = std::string("eventfd: ") + strerror(errno);
        return false;
    }
    for (int i = 0; i < n; i++)
        threads_.emplace_back([this] { thread_main(); });
    return true;
}

// Queue a job; a worker picks it up.
void Workers::submit(Job job, Job done)
{
    {
        std::lock_guard<std::mutex> lock(mu_);
        jobs_.push_back(Item{std::move(job), std::move(done)});
    }
    cv_.notify_one();
}

// Number of jobs not yet started.
size_t Workers::queued() const
{
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size();
}

// A worker: run jobs until stop, hand each completion to the event loop.
void Workers::thread_main()
{
    for (;;) {
        Item it;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_)
                return;
            it = std::move(jobs_.front());
            jobs_.pop_front();
        }
        it.job();
        {
            std::lock_guard<std::mutex> lock(mu_);
            completions_.push_back(std::move(it.done));
        }
        uint64_t one = 1;
        (void)!write(efd_, &one, sizeof(one));
    }
}

// Drain the eventfd and run every ready completion.
void Workers::run_completions()
{
    uint64_t v;
    (void)!read(efd_, &v, sizeof(v));
    std::vector<Job> ready;
    {
        std::lock_guard<std::mutex> lock(mu_);
        ready.swap(completions_);
    }
    for (auto &done : ready)
        if (done)
            done();
}

// Join the threads after the jobs under way; queued jobs and completions
// not yet run are dropped (nobody is left to answer).
void Workers::stop()
{
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto &t : threads_)
        t.join();
    threads_.clear();
    if (efd_ >= 0)
        ::close(efd_);
    efd_ = -1;
}

} // namespace exo
