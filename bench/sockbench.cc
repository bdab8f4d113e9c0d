// sockbench.cc: load generator and echo floor for exoauthd's socket.
// "load PATH CLIENTS SECONDS MAX_REQUESTS ACCOUNT" runs CLIENTS connections,
// each sending TOKEN requests one at a time, bounded in time and count, and
// prints rps and p50/p99 latency. "validate PATH CLIENTS SECONDS
// MAX_REQUESTS TOKENFILE cycle|once" does the same with VALIDATE requests
// for the tokens of TOKENFILE (one a line), taken in turn by all clients:
// "cycle" goes round the file until a limit (cached verdicts), "once" uses
// every token at most once and also stops when the file is used up
// (uncached). "echo PATH BYTES" is a one-thread epoll server that answers
// every line with BYTES bytes: the floor to compare to. "scrape PATH RATE
// SECONDS" does what exoauthctl metrics does (connect, VERSION, METRICS, read
// to OK, close) RATE times a second on a fixed schedule for SECONDS, and
// prints how many it did (bench/scrape).
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;

// Connect to a UNIX socket (blocking).
int dial(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

// Read one line (without LF) through a per-connection buffer.
bool read_line(int fd, std::string &buf, std::string &line)
{
    for (;;) {
        size_t lf = buf.find('\n');
        if (lf != std::string::npos) {
            line.assign(buf, 0, lf);
            buf.erase(0, lf + 1);
            return true;
        }
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0)
            return false;
        buf.append(tmp, (size_t)n);
    }
}

struct Result {
    std::vector<double> lat_us;
    long errors = 0;
};

// The request lines of a run, taken in turn by all clients; request i is
// lines[i % size] while i < limit.
struct Requests {
    std::vector<std::string> lines;
    long limit = 0;
    std::atomic<long> next{0};
};

// One client: VERSION, then sequential requests until a limit.
void client(const char *path, Clock::time_point end, Requests &reqs, Result &out)
{
    int fd = dial(path);
    std::string buf, line;
    std::string hello = "VERSION\t1\t0\n";
    if (write(fd, hello.data(), hello.size()) < 0 || !read_line(fd, buf, line))
        exit(1);
    long i;
    while (Clock::now() < end && (i = reqs.next.fetch_add(1)) < reqs.limit) {
        const std::string &req = reqs.lines[(size_t)i % reqs.lines.size()];
        auto t0 = Clock::now();
        if (write(fd, req.data(), req.size()) < 0 || !read_line(fd, buf, line))
            break;
        out.lat_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (line.compare(0, 5, "1\tOK\t") != 0)
            out.errors++;
    }
    close(fd);
}

// The q-quantile of sorted values.
double quantile(const std::vector<double> &v, double q)
{
    return v.empty() ? 0 : v[std::min(v.size() - 1, (size_t)(q * (double)v.size()))];
}

// load and validate modes: CLIENTS threads over the same request list.
int run_load(const char *path, int clients, double seconds, Requests &reqs)
{
    std::vector<Result> results(clients);
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (int i = 0; i < clients; i++)
        threads.emplace_back(client, path, end, std::ref(reqs), std::ref(results[i]));
    for (auto &t : threads)
        t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    long errors = 0;
    for (auto &r : results) {
        all.insert(all.end(), r.lat_us.begin(), r.lat_us.end());
        errors += r.errors;
    }
    std::sort(all.begin(), all.end());
    printf("clients=%d requests=%zu seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f errors=%ld\n", clients,
           all.size(), secs, (double)all.size() / secs, quantile(all, 0.50), quantile(all, 0.99), errors);
    return 0;
}

// Answer every complete line in buf with the canned reply.
void echo_lines(int fd, std::string &buf, const std::string &reply, bool &greeted)
{
    size_t lf;
    std::string out;
    while ((lf = buf.find('\n')) != std::string::npos) {
        if (greeted)
            out += reply;
        greeted = true;
        buf.erase(0, lf + 1);
    }
    if (!out.empty() && write(fd, out.data(), out.size()) < 0)
        return;
}

// echo mode: one-thread epoll server, like exoauthd's loop without the work.
int run_echo(const char *path, size_t bytes)
{
    unlink(path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
        perror("bind");
        return 1;
    }
    std::string reply = "1\tOK\ttoken=" + std::string(bytes > 20 ? bytes - 20 : 1, 'x') + "\n";
    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {.fd = lfd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::map<int, std::pair<std::string, bool>> conns;
    printf("READY\n");
    fflush(stdout);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
                if (c < 0)
                    continue;
                struct epoll_event cev = {EPOLLIN, {.fd = c}};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                conns[c] = {"", false};
                (void)!write(c, "VERSION\t1\t0\n", 12);
                continue;
            }
            char tmp[65536];
            ssize_t r = read(fd, tmp, sizeof(tmp));
            if (r <= 0) {
                close(fd);
                conns.erase(fd);
                continue;
            }
            auto &st = conns[fd];
            st.first.append(tmp, (size_t)r);
            echo_lines(fd, st.first, reply, st.second);
        }
    }
}
// One METRICS round trip on a new connection; false if it failed.
bool scrape_once(const char *path)
{
    int fd = dial(path);
    static const char req[] = "VERSION\t1\t0\nm\tMETRICS\n";
    bool ok = write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1);
    std::string buf, line;
    while (ok && (ok = read_line(fd, buf, line)) && line.compare(0, 5, "m\tOK") != 0)
        ;
    close(fd);
    return ok;
}

// Scrape at rate per second for seconds; prints scrapes=N late=N errors=N.
int run_scrape(const char *path, double rate, double seconds)
{
    auto start = Clock::now();
    auto end = start + std::chrono::duration<double>(seconds);
    long n = 0, late = 0, errors = 0;
    while (Clock::now() < end) {
        errors += !scrape_once(path);
        n++;
        auto next = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / rate));
        if (next > Clock::now())
            std::this_thread::sleep_until(next);
        else
            late++;
    }
    printf("scrapes=%ld late=%ld errors=%ld\n", n, late, errors);
    return errors ? 1 : 0;
}
} // namespace

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "echo") == 0)
        return run_echo(argv[2], (size_t)atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "scrape") == 0)
        return run_scrape(argv[2], atof(argv[3]), atof(argv[4]));
    if (argc == 7 && strcmp(argv[1], "load") == 0) {
        Requests reqs;
        reqs.lines = {std::string("1\tTOKEN\taccount=") + argv[6] + "\n"};
        reqs.limit = atol(argv[5]);
        return run_load(argv[2], atoi(argv[3]), atof(argv[4]), reqs);
    }
    if (argc == 8 && strcmp(argv[1], "validate") == 0 &&
        (strcmp(argv[7], "cycle") == 0 || strcmp(argv[7], "once") == 0)) {
        Requests reqs;
        std::ifstream in(argv[6]);
        for (std::string tok; std::getline(in, tok);)
            if (!tok.empty())
                reqs.lines.push_back("1\tVALIDATE\ttoken=" + tok + "\n");
        if (reqs.lines.empty()) {
            fprintf(stderr, "sockbench: no tokens in %s\n", argv[6]);
            return 1;
        }
        reqs.limit = atol(argv[5]);
        if (strcmp(argv[7], "once") == 0)
            reqs.limit = std::min(reqs.limit, (long)reqs.lines.size());
        return run_load(argv[2], atoi(argv[3]), atof(argv[4]), reqs);
    }
    fprintf(stderr, "usage: sockbench echo PATH BYTES | load PATH CLIENTS SECONDS MAX_REQUESTS ACCOUNT\n"
                    "       | validate PATH CLIENTS SECONDS MAX_REQUESTS TOKENFILE cycle|once\n"
                    "       | scrape PATH RATE SECONDS\n");
    return 2;
}
