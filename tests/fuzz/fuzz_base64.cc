// fuzz_base64.cc: libFuzzer target for the strict base64 and base64url
// decoders: whatever they accept must re-encode to exactly the input, and
// every byte string must survive an encode/decode round trip.
// fuzz-sources: src/plug/base64.cc
#include "base64.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string in((const char *)data, size), out;
    if (base64_decode(in, out) && base64_encode(out) != in)
        abort();
    if (base64url_decode(in, out) && base64url_encode(out) != in)
        abort();
    if (!base64_decode(base64_encode(in), out) || out != in)
        abort();
    if (!base64url_decode(base64url_encode(in), out) || out != in)
        abort();
    return 0;
}
