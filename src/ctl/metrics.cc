// metrics.cc: exoauthctl metrics: exoauthd's figures in the Prometheus
// text exposition format (METRICS, docs/PROTOCOL.md), printed, or written
// with --output for node_exporter's textfile collector: a temporary file
// in the same directory, fsynced, renamed over the old one, so the
// collector never reads half a file. exoauthd's answer is untrusted: only
// METRIC lines of this request are kept, and at most MAX_LINES of them.
#include "ctl.hh"

#include "store.hh"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace exo::ctl {

namespace {

constexpr size_t MAX_LINES = 100000;

// Ask exoauthd for METRICS; the exposition text, or false with a message.
bool fetch_metrics(const Options &opts, std::string &text, std::string &error)
{
    Client c;
    proto::Response r;
    std::vector<proto::Response> lines;
    if (!connect_daemon(opts, c, error) || !c.call({"1", "METRICS", {}}, r, opts.timeout_ms, error, &lines))
        return false;
    if (r.status != "OK") {
        error = r.status + " " + field(r, "code") + ": " + field(r, "reason");
        return false;
    }
    if (lines.size() > MAX_LINES) {
        error = "exoauthd sent more than " + std::to_string(MAX_LINES) + " lines";
        return false;
    }
    for (const auto &l : lines)
        if (l.status == "METRIC")
            text.append(field(l, "text")).append("\n");
    return true;
}

// Replace path with text atomically (temporary file, fsync, rename), 0644.
bool write_atomically(const std::string &path, const std::string &text, std::string &error)
{
    std::string tmp = path + ".XXXXXX";
    int fd = mkstemp(&tmp[0]);
    if (fd < 0) {
        error = "cannot create a file beside " + path + ": " + strerror(errno);
        return false;
    }
    bool ok = fchmod(fd, 0644) == 0 && write_all(fd, text) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
        error = "cannot write " + path + ": " + strerror(errno);
        (void)unlink(tmp.c_str());
        return false;
    }
    return true;
}

} // namespace

// exoauthctl metrics [--output FILE]
int cmd_metrics(const Options &opts, const std::string &output)
{
    std::string text, error;
    bool ok = fetch_metrics(opts, text, error) &&
              (output.empty() ? fputs(text.c_str(), stdout) >= 0 && fflush(stdout) == 0
                              : write_atomically(output, text, error));
    if (!ok) {
        fprintf(stderr, "exoauthctl: metrics: %s\n", error.empty() ? strerror(errno) : error.c_str());
        return 1;
    }
    return 0;
}

} // namespace exo::ctl
