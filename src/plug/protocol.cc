// protocol.cc: the exoauthd protocol v1 codec (see protocol.hh and
// docs/PROTOCOL.md). Parsers take untrusted bytes: every field is checked
// against its grammar and limit, and nothing is guessed.
#include "protocol.hh"

#include "secret.hh"

#include <algorithm>
#include <cstring>

namespace exo::proto {

namespace {

// [A-Za-z0-9]{1,16}
bool id_ok(std::string_view s)
{
    if (s.empty() || s.size() > MAX_ID)
        return false;
    for (char c : s)
        if (!isalnum((unsigned char)c))
            return false;
    return true;
}

// [A-Z][A-Z-]{0,31}
bool command_ok(std::string_view s)
{
    if (s.empty() || s.size() > MAX_COMMAND || s[0] < 'A' || s[0] > 'Z')
        return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || c == '-'))
            return false;
    return true;
}

// [a-z0-9_]{1,32}
bool key_ok(std::string_view s)
{
    if (s.empty() || s.size() > MAX_KEY)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    return true;
}

// Split at TAB (no allocation of the pieces).
std::vector<std::string_view> split_tabs(std::string_view line)
{
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        size_t t = line.find('\t', start);
        parts.push_back(line.substr(start, t == std::string_view::npos ? t : t - start));
        if (t == std::string_view::npos)
            return parts;
        start = t + 1;
    }
}

// Parse key=value fields from parts[first..]; false with a reason.
bool parse_fields(const std::vector<std::string_view> &parts, size_t first, Fields &out,
                  std::string &error)
{
    if (parts.size() - first > MAX_FIELDS) {
        error = "too many fields";
        return false;
    }
    for (size_t i = first; i < parts.size(); i++) {
        size_t eq = parts[i].find('=');
        if (eq == std::string_view::npos) {
            error = "field without '='";
            return false;
        }
        std::string_view key = parts[i].substr(0, eq), value = parts[i].substr(eq + 1);
        if (!key_ok(key)) {
            error = "bad key";
            return false;
        }
        if (!value_ok(value)) {
            error = "bad byte in value";
            return false;
        }
        for (const auto &f : out)
            if (f.first == key) {
                error = "duplicate key";
                return false;
            }
        out.emplace_back(std::string(key), std::string(value));
    }
    return true;
}

// Find key in fields.
const std::string *find(const Fields &fields, std::string_view key)
{
    for (const auto &f : fields)
        if (f.first == key)
            return &f.second;
    return nullptr;
}
} // namespace

const std::string *Request::arg(std::string_view key) const { return find(args, key); }
const std::string *Response::get(std::string_view key) const { return find(fields, key); }

// "VERSION\t<major>\t<minor>" with small decimal numbers.
bool parse_version(std::string_view line, int &major, int &minor)
{
    auto parts = split_tabs(line);
    if (parts.size() != 3 || parts[0] != "VERSION")
        return false;
    int v[2];
    for (int i = 0; i < 2; i++) {
        std::string_view s = parts[i + 1];
        if (s.empty() || s.size() > 4)
            return false;
        v[i] = 0;
        for (char c : s) {
            if (c < '0' || c > '9')
                return false;
            v[i] = v[i] * 10 + (c - '0');
        }
    }
    major = v[0];
    minor = v[1];
    return true;
}

// Our VERSION line.
std::string format_version()
{
    return "VERSION\t" + std::to_string(VERSION_MAJOR) + "\t" + std::to_string(VERSION_MINOR) + "\n";
}

// One request line.
Parse parse_request(std::string_view line, Request &out, std::string &error)
{
    out = Request();
    if (line.empty() || line.size() > MAX_LINE) {
        error = line.empty() ? "empty line" : "line too long";
        return Parse::Fatal;
    }
    auto parts = split_tabs(line);
    if (!id_ok(parts[0])) {
        error = "bad request id";
        return Parse::Fatal;
    }
    out.id = std::string(parts[0]);
    if (parts.size() < 2 || !command_ok(parts[1])) {
        error = "bad command";
        return Parse::Error;
    }
    if (!parse_fields(parts, 2, out.args, error)) {
        for (auto &f : out.args)  // a token may be among the fields read so far
            exo::wipe(f.second);
        out.args.clear();
        return Parse::Error;
    }
    out.command = std::string(parts[1]);
    return Parse::Ok;
}

// One response line (client side).
bool parse_response(std::string_view line, Response &out, std::string &error)
{
    out = Response();
    if (line.size() > MAX_LINE) {
        error = "response line too long";
        return false;
    }
    auto parts = split_tabs(line);
    if (parts.size() < 2 || !(parts[0] == "*" || id_ok(parts[0])) || !command_ok(parts[1])) {
        error = "malformed response line";
        return false;
    }
    out.id = std::string(parts[0]);
    out.status = std::string(parts[1]);
    if (!parse_fields(parts, 2, out.fields, error)) {
        error = "malformed response: " + error;
        return false;
    }
    return true;
}

// No byte below 0x20, no DEL.
bool value_ok(std::string_view v)
{
    for (unsigned char c : v)
        if (c < 0x20 || c == 0x7f)
            return false;
    return true;
}

// Control bytes become spaces; cut at max bytes, not inside a UTF-8 sequence.
std::string sanitize(std::string_view text, size_t max)
{
    std::string out(text.substr(0, max));
    if (text.size() > max)
        while (!out.empty() && ((unsigned char)out.back() & 0xc0) == 0x80)
            out.pop_back();
    if (text.size() > max && !out.empty() && ((unsigned char)out.back() & 0xc0) == 0xc0)
        out.pop_back();
    for (char &c : out)
        if ((unsigned char)c < 0x20 || c == 0x7f)
            c = ' ';
    return out;
}

// id TAB word {TAB key=value} LF
std::string format_line(std::string_view id, std::string_view word, const Fields &fields)
{
    size_t n = id.size() + word.size() + 2;
    for (const auto &f : fields)
        n += f.first.size() + f.second.size() + 2;
    std::string line;
    line.reserve(n);
    line.append(id).append("\t").append(word);
    for (const auto &f : fields) {
        line.append("\t").append(f.first).append("=");
        if (value_ok(f.second))
            line.append(f.second);
        else
            line.append(sanitize(f.second, MAX_LINE));
    }
    line.append("\n");
    return line;
}

// Next complete line, keeping memory bounded.
LineBuffer::Next LineBuffer::next(std::string &line)
{
    size_t avail = buf_.size() - pos_;
    size_t scan = avail < max_ + 1 ? avail : max_ + 1;
    const char *start = buf_.data() + pos_;
    const char *lf = (const char *)memchr(start, '\n', scan);
    if (memchr(start, '\0', lf ? (size_t)(lf - start) : scan))
        return Next::Binary;
    if (!lf) {
        if (avail > max_)
            return Next::TooLong;
        compact();
        return Next::NeedMore;
    }
    line.assign(start, (size_t)(lf - start));
    pos_ += (size_t)(lf - start) + 1;
    if (pos_ == buf_.size())
        compact();
    return Next::Line;
}

// Drop the consumed bytes: wipe them, and keep no more storage than the
// partial line still needs.
void LineBuffer::compact()
{
    if (pos_ == 0)
        return;
    move_tail(buf_, pos_);
    pos_ = 0;
}

// Forget buffered bytes, wiping them.
void LineBuffer::wipe()
{
    exo::wipe(buf_);
    pos_ = 0;
}

namespace {
constexpr size_t KEEP_CAPACITY = 4096;  // bytes an idle buffer may keep
} // namespace

// See protocol.hh: by name, never by position.
void wipe_value(Fields &f, std::string_view key)
{
    for (auto &[k, v] : f)
        if (k == key)
            exo::wipe(v);
}

// See protocol.hh: grow by hand so the old storage is wiped first.
void append_wiping(std::string &s, const char *data, size_t n)
{
    if (s.size() + n > s.capacity()) {
        std::string bigger;
        bigger.reserve(std::max(s.size() + n, 2 * s.capacity()));
        bigger.append(s);
        exo::wipe(s);
        std::string().swap(s);
        s.swap(bigger);
    }
    s.append(data, n);
}

// See protocol.hh: copy the tail out, wipe and free the old storage.
void move_tail(std::string &s, size_t pos)
{
    if (pos == s.size() && s.capacity() <= KEEP_CAPACITY) {
        exo::wipe(s);
        return;
    }
    std::string tail(s, pos);
    exo::wipe(s);
    std::string().swap(s);
    s.swap(tail);
}

// Sent: wipe those bytes in place; compact when half the storage is dead.
void OutBuffer::consume(size_t n)
{
    exo::wipe(&buf_[pos_], n);
    pos_ += n;
    if (pos_ == buf_.size() || pos_ > buf_.size() / 2) {
        move_tail(buf_, pos_);
        pos_ = 0;
    }
}

// Forget everything queued.
void OutBuffer::wipe()
{
    exo::wipe(buf_);
    std::string().swap(buf_);
    pos_ = 0;
}

} // namespace exo::proto
