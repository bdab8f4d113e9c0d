// link.cc: the auth process's non-blocking exoauthd connection on Dovecot's
// ioloop (see link.hh). Dovecot's headers are C; they are included inside
// extern "C" and every callback they call is a static trampoline that
// catches whatever the C++ behind it throws.
#include "link.hh"

#include "secret.hh"

extern "C" {
#include "lib.h"
#include "ioloop.h"
#include "net.h"
}

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace exo::dovecot {

namespace {

// Run f for Dovecot, which cannot take an exception back.
template <class F> void guarded(const char *what, F f)
{
    try {
        f();
    } catch (...) {
        i_error("exoauth: out of memory %s", what);
    }
}

// Trampolines: Dovecot calls these with the context given to io_add or
// timeout_add.
void readable_cb(Link *link) { guarded("reading from exoauthd", [link] { link->on_readable(); }); }
void writable_cb(Link *link) { guarded("writing to exoauthd", [link] { link->on_writable(); }); }
void deadline_cb(Link::Pending *p) { guarded("on a timeout", [p] { p->link->on_deadline(p->id); }); }
void deferred_cb(Link *link) { guarded("on a deferred answer", [link] { link->on_deferred(); }); }

} // namespace

Link::~Link()
{
    shutdown("auth process stopping");
    if (deferred_to_)
        timeout_remove(&deferred_to_);
}

// Connect and queue our VERSION line; exoauthd's arrives with the answers.
bool Link::connect(std::string &error)
{
    int fd = net_connect_unix(path_.c_str());
    if (fd < 0) {
        error = "cannot connect to exoauthd at " + path_ + ": " + strerror(errno);
        return false;
    }
    fd_ = fd;
    greeted_ = false;
    in_ = proto::LineBuffer();
    out_ = proto::format_version();
    io_in_ = io_add(fd_, IO_READ, readable_cb, this);
    return true;
}

void Link::close_fd()
{
    if (io_in_)
        io_remove(&io_in_);
    if (io_out_)
        io_remove(&io_out_);
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
    in_.wipe();
    wipe(out_);
}

void Link::call(const std::string &command, const proto::Fields &fields, Done done)
{
    std::string error;
    if (fd_ < 0 && !connect(error))
        return defer(std::move(done), Outcome{false, {}, error});
    auto p = std::make_unique<Pending>();
    p->link = this;
    p->id = std::to_string(++next_);
    p->done = std::move(done);
    p->to = timeout_add(timeout_ms_, deadline_cb, p.get());
    std::string line = proto::format_line(p->id, command, fields);
    out_ += line;
    wipe(line);
    pending_[p->id] = std::move(p);
    flush();
}

// Write what is queued; wait for POLLOUT when the socket is full.
void Link::flush()
{
    while (!out_.empty()) {
        ssize_t n = write(fd_, out_.data(), out_.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            fail_all(std::string("exoauthd connection lost while writing: ") + strerror(errno));
            return;
        }
        wipe(out_.data(), (size_t)n);
        out_.erase(0, (size_t)n);
    }
    if (!out_.empty() && !io_out_)
        io_out_ = io_add(fd_, IO_WRITE, writable_cb, this);
    else if (out_.empty() && io_out_)
        io_remove(&io_out_);
}

void Link::on_writable()
{
    flush();
}

void Link::on_readable()
{
    char buf[8192];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        fail_all(n == 0 ? "exoauthd closed the connection" : std::string("exoauthd read error: ") + strerror(errno));
        return;
    }
    in_.append(buf, (size_t)n);
    wipe(buf, (size_t)n);
    std::string line;
    for (;;) {
        auto next = in_.next(line);
        if (next == proto::LineBuffer::Next::NeedMore)
            break;
        if (next != proto::LineBuffer::Next::Line) {
            fail_all("exoauthd sent an overlong or binary line");
            return;
        }
        handle_line(line);
        wipe(line);
        if (fd_ < 0)  // a bad line closed the connection
            return;
    }
}

// One line from exoauthd: its VERSION first, then answers by id.
void Link::handle_line(const std::string &line)
{
    if (!greeted_) {
        int major = 0, minor = 0;
        if (!proto::parse_version(line, major, minor) || major != proto::VERSION_MAJOR) {
            fail_all("exoauthd speaks an unknown protocol version");
            return;
        }
        greeted_ = true;
        return;
    }
    proto::Response resp;
    std::string error;
    if (!proto::parse_response(line, resp, error)) {
        fail_all("exoauthd sent a malformed answer: " + error);
        return;
    }
    if (resp.id == "*") {
        const std::string *reason = resp.get("reason");
        fail_all("exoauthd refused the connection: " + (reason ? *reason : std::string("no reason")));
        return;
    }
    if (resp.status == "OK" || resp.status == "FAIL" || resp.status == "ERROR") {
        std::string id = resp.id;  // resp is moved into the outcome
        finish(id, Outcome{true, std::move(resp), {}});
    }
    // Intermediate lines (none for the commands the plugin sends) are ignored.
}

// Complete one request: stop its timer, forget it, then call back (the
// callback may start new requests on this link).
void Link::finish(const std::string &id, const Outcome &o)
{
    auto it = pending_.find(id);
    if (it == pending_.end())
        return;  // a late answer after its deadline
    std::unique_ptr<Pending> p = std::move(it->second);
    pending_.erase(it);
    if (p->to)
        timeout_remove(&p->to);
    p->done(o);
}

void Link::on_deadline(const std::string &id)
{
    finish(id, Outcome{false, {}, "exoauthd did not answer within " + std::to_string(timeout_ms_) + " ms"});
}

// The connection is unusable: close it and fail everything in flight.
void Link::fail_all(const std::string &why)
{
    close_fd();
    std::vector<std::string> ids;
    for (auto &kv : pending_)
        ids.push_back(kv.first);
    for (auto &id : ids)
        finish(id, Outcome{false, {}, why});
}

void Link::shutdown(const std::string &why)
{
    fail_all(why);
    on_deferred();
}

void Link::defer(Done done, Outcome o)
{
    deferred_.emplace_back(std::move(done), std::move(o));
    if (!deferred_to_)
        deferred_to_ = timeout_add_short(0, deferred_cb, this);
}

void Link::on_deferred()
{
    if (deferred_to_)
        timeout_remove(&deferred_to_);
    auto ready = std::move(deferred_);
    deferred_.clear();
    for (auto &d : ready)
        d.first(d.second);
}

} // namespace exo::dovecot
