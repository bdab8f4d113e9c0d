// protocol.hh: the exoauthd socket protocol, version 1 (docs/PROTOCOL.md).
// Line based: fields separated by TAB, lines ended by LF, every line bounded.
// Requests:  <id> TAB <COMMAND> { TAB key=value }
// Responses: <id> TAB <STATUS>  { TAB key=value }
// The parsers take untrusted bytes from any allowed local peer and from the
// daemon; they refuse rather than guess and never allocate past the limits.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace exo::proto {

constexpr int VERSION_MAJOR = 1;
constexpr int VERSION_MINOR = 0;
constexpr size_t MAX_LINE = 16384;     // bytes, without the LF
constexpr size_t MAX_FIELDS = 32;      // key=value pairs after the command
constexpr size_t MAX_ID = 16;          // [A-Za-z0-9]{1,16}
constexpr size_t MAX_KEY = 32;         // [a-z0-9_]{1,32}
constexpr size_t MAX_COMMAND = 32;     // [A-Z-]{1,32}

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string id;
    std::string command;
    Fields args;
    // Value of key, or nullptr when absent.
    const std::string *arg(std::string_view key) const;
};

struct Response {
    std::string id;      // "*" for connection-level errors
    std::string status;  // OK, FAIL, ERROR, PENDING, ACCOUNT, ...
    Fields fields;
    const std::string *get(std::string_view key) const;
};

enum class Parse {
    Ok,     // out is filled
    Error,  // answer "<id> ERROR reason=..." (id known) and keep the connection
    Fatal,  // answer "* ERROR reason=..." and disconnect
};

// "VERSION\t<major>\t<minor>": the first line each side sends.
bool parse_version(std::string_view line, int &major, int &minor);
std::string format_version();

// Parse one request line (without its LF). On Error, out.id holds the id so
// the error can be addressed; on Fatal nothing in out is meaningful.
Parse parse_request(std::string_view line, Request &out, std::string &error);

// Parse one response line (client side). False with a reason.
bool parse_response(std::string_view line, Response &out, std::string &error);

// Wipe the value of key wherever it appears in f (a token, say).
void wipe_value(Fields &f, std::string_view key);

// A value is safe on the wire if it has no byte below 0x20 and no 0x7f.
bool value_ok(std::string_view v);
// Make free text (log reasons, IdP messages) wire safe: control bytes become
// spaces, and the result is cut to max bytes.
std::string sanitize(std::string_view text, size_t max = 512);

// Format one line, LF included. Values must satisfy value_ok (asserted by
// replacing bad bytes, never by emitting them).
std::string format_line(std::string_view id, std::string_view word, const Fields &fields);

// Append to s; when s must grow, its old storage is wiped, not just freed.
void append_wiping(std::string &s, const char *data, size_t n);

// Accumulates bytes and cuts lines; refuses lines above MAX_LINE and NUL.
class LineBuffer {
public:
    enum class Next { Line, NeedMore, TooLong, Binary };
    explicit LineBuffer(size_t max_line = MAX_LINE) : max_(max_line) {}
    void append(const char *data, size_t n) { append_wiping(buf_, data, n); }
    // On Line, line holds the next line without its LF (a trailing CR is kept
    // and makes the line invalid for the parsers).
    Next next(std::string &line);
    size_t buffered() const { return buf_.size() - pos_; }
    void wipe();

private:
    void compact();
    std::string buf_;
    size_t pos_ = 0;
    size_t max_;
};

// Queued output of one connection. Answers carry tokens: sent bytes are
// wiped where they lie (never moved and left behind by an erase), and the
// memory is given back once the queue drains, so a burst does not keep a
// connection's peak size for its lifetime.
class OutBuffer {
public:
    void append(std::string_view s) { append_wiping(buf_, s.data(), s.size()); }
    const char *data() const { return buf_.data() + pos_; }
    size_t size() const { return buf_.size() - pos_; }
    bool empty() const { return pos_ == buf_.size(); }
    size_t capacity() const { return buf_.capacity(); }
    // n bytes were sent: wipe them; release or compact the storage.
    void consume(size_t n);
    void wipe();

private:
    std::string buf_;
    size_t pos_ = 0;
};

// Replace s by a copy of its bytes from pos on, in fresh storage that fits,
// and wipe all of the old storage (std::string::erase would leave copies).
void move_tail(std::string &s, size_t pos);

} // namespace exo::proto
