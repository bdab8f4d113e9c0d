// fuzz_protocol.cc: libFuzzer target for the exoauthd protocol codec: bytes
// go through LineBuffer, then parse_request and parse_response. A request
// that parses must survive format_line and parse again unchanged.
// fuzz-sources: src/plug/protocol.cc src/plug/secret.cc src/plug/crypto.cc src/plug/base64.cc
#include "protocol.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo::proto;

// Round trip: format a parsed request and parse it again.
static void check_round_trip(const Request &req)
{
    std::string line = format_line(req.id, req.command, req.args);
    line.pop_back();
    Request again;
    std::string error;
    if (parse_request(line, again, error) != Parse::Ok || again.id != req.id ||
        again.command != req.command || again.args != req.args)
        abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LineBuffer buf(MAX_LINE);
    buf.append((const char *)data, size);
    std::string line;
    for (int i = 0; i < 1000 && buf.next(line) == LineBuffer::Next::Line; i++) {
        Request req;
        Response resp;
        std::string error;
        if (parse_request(line, req, error) == Parse::Ok)
            check_round_trip(req);
        parse_response(line, resp, error);
        int major, minor;
        parse_version(line, major, minor);
        if (!value_ok(sanitize(line, 512)))
            abort();
    }
    return 0;
}
