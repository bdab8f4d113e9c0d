// fuzz_usermap.cc: libFuzzer target for the [validate] user_map parser: any
// bytes as the file; an accepted map must answer look-ups without crashing
// and hold no control bytes.
// fuzz-sources: src/core/usermap.cc src/core/protocol.cc src/core/secret.cc src/core/crypto.cc src/core/base64.cc
#include "protocol.hh"
#include "usermap.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string text((const char *)data, size), error;
    UserMap m;
    if (usermap_parse(text, "fuzz", m, error))
        for (const auto &[from, to] : m)
            if (!proto::value_ok(to) || usermap_apply(m, from) != to)
                abort();
    return 0;
}
