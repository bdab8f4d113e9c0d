// httphead.hh: the request-head parser of exoauthd's metrics listener
// (src/daemon/httpmetrics.cc): a pure function over the bytes a client has
// sent so far, strict (HTTP/1.0 or 1.1, CRLF line ends, origin-form target,
// no header folding, no control bytes) and bounded (HTTP_MAX_HEAD bytes).
// Input is untrusted; nothing here allocates beyond the head's own size.
#pragma once

#include <cstddef>
#include <string_view>

namespace exo {

constexpr size_t HTTP_MAX_HEAD = 8192;  // request line and headers, CRLFCRLF included

// What a (partial) request head asks for.
enum class HttpHead {
    NeedMore,   // no complete head yet, nothing wrong so far
    Metrics,    // GET /metrics: 200
    NotFound,   // GET of another path: 404
    BadMethod,  // a well-formed method other than GET: 405
    Bad,        // malformed: 400
    TooLarge,   // longer than HTTP_MAX_HEAD: 431
};

// Judge the bytes received so far.
HttpHead parse_http_head(std::string_view in);

// The HTTP status code and reason phrase of an answer to h ("200 OK").
const char *http_status_line(HttpHead h);

} // namespace exo
