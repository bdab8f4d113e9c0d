// httphead.cc: the strict request-head parser of the metrics listener
// (see httphead.hh; RFC 9112 sections 2 to 5, a deliberately small subset).
#include "httphead.hh"

namespace exo {

namespace {

// A tchar of RFC 9110 section 5.6.2 (method and header names).
bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    for (const char *t = "!#$%&'*+-.^_`|~"; *t; t++)
        if (c == *t)
            return true;
    return false;
}

// True when every byte is visible ASCII or (in header values) a blank.
bool printable(std::string_view s, bool blanks)
{
    for (char c : s) {
        unsigned char u = (unsigned char)c;
        if (u < 0x20 || u == 0x7f) {
            if (!(blanks && c == '\t'))
                return false;
        } else if (c == ' ' && !blanks) {
            return false;
        }
    }
    return true;
}

// Every line ends in CRLF: no bare CR or LF, no NUL anywhere.
bool clean_line_ends(std::string_view head)
{
    for (size_t i = 0; i < head.size(); i++) {
        if (head[i] == '\0')
            return false;
        if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r'))
            return false;
        if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))
            return false;
    }
    return true;
}

// One header field: a token name, a colon right after it, a clean value.
// A line starting with a blank (obsolete folding) is refused.
bool header_ok(std::string_view line)
{
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos)
        return false;
    for (char c : line.substr(0, colon))
        if (!is_tchar(c))
            return false;
    return printable(line.substr(colon + 1), true);
}

// The request line: METHOD SP /path SP HTTP/1.x.
HttpHead request_line(std::string_view line)
{
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return HttpHead::Bad;
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    for (char c : method)
        if (!is_tchar(c))
            return HttpHead::Bad;
    if ((version != "HTTP/1.1" && version != "HTTP/1.0") || target.empty() || target.front() != '/' ||
        !printable(target, false))
        return HttpHead::Bad;  // absolute-form, authority-form and '*' included
    if (method != "GET")
        return HttpHead::BadMethod;
    std::string_view path = target.substr(0, target.find('?'));
    return path == "/metrics" ? HttpHead::Metrics : HttpHead::NotFound;
}

} // namespace

// Judge the bytes received so far.
HttpHead parse_http_head(std::string_view in)
{
    size_t end = in.find("\r\n\r\n");
    std::string_view seen = in.substr(0, end == std::string_view::npos ? in.size() : end + 4);
    if (seen.size() > HTTP_MAX_HEAD)
        return HttpHead::TooLarge;
    if (seen.find('\0') != std::string_view::npos || seen.find("\n\n") != std::string_view::npos)
        return HttpHead::Bad;
    if (end == std::string_view::npos)
        return HttpHead::NeedMore;
    std::string_view head = in.substr(0, end + 2);  // each line with its CRLF
    if (!clean_line_ends(head))
        return HttpHead::Bad;
    size_t eol = head.find("\r\n");
    for (size_t at = eol + 2; at < head.size();) {
        size_t next = head.find("\r\n", at);
        if (!header_ok(head.substr(at, next - at)))
            return HttpHead::Bad;
        at = next + 2;
    }
    return request_line(head.substr(0, eol));
}

// The status line's code and phrase.
const char *http_status_line(HttpHead h)
{
    switch (h) {
    case HttpHead::Metrics:
        return "200 OK";
    case HttpHead::NotFound:
        return "404 Not Found";
    case HttpHead::BadMethod:
        return "405 Method Not Allowed";
    case HttpHead::TooLarge:
        return "431 Request Header Fields Too Large";
    default:
        return "400 Bad Request";
    }
}

} // namespace exo
