// fuzz_pop3auth.cc: libFuzzer target for exoauth-pop3-bridge's AUTH line
// splitter. A split must put back exactly the line it took apart: the
// command and the response, joined by a space, are the original line.
// fuzz-sources: src/bridge/pop3auth.cc
#include "pop3auth.hh"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string line((const char *)data, size), command, response;
    exo::bridge::is_continuation(line);
    if (!exo::bridge::split_auth(line, exo::bridge::kAuthLineLimit, command, response))
        return 0;
    std::string joined = command.substr(0, command.size() - 2) + " " + response;
    if (joined != line || line.size() <= exo::bridge::kAuthLineLimit)
        abort();
    return 0;
}
