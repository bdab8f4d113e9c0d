// fuzz_httphead.cc: libFuzzer target for the metrics listener's request-head
// parser (untrusted bytes from any local process). A verdict never changes
// once the head is complete; a head the parser accepts fits the bound and
// starts with "GET /"; every verdict has a status line; and a verdict of
// NeedMore never comes from input that already holds NUL or ends the head.
// fuzz-sources: src/core/httphead.cc
#include "httphead.hh"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string in((const char *)data, size);
    exo::HttpHead h = exo::parse_http_head(in);
    if (std::strlen(exo::http_status_line(h)) < 6)
        abort();
    size_t end = in.find("\r\n\r\n");
    if (h == exo::HttpHead::NeedMore && (end != std::string::npos || in.find('\0') != std::string::npos))
        abort();
    if (h == exo::HttpHead::Metrics || h == exo::HttpHead::NotFound) {
        if (end + 4 > exo::HTTP_MAX_HEAD || in.compare(0, 5, "GET /") != 0)
            abort();
        if (exo::parse_http_head(in + "trailing bytes") != h)  // a body or a second request changes nothing
            abort();
    }
    return 0;
}
