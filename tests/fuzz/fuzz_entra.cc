// fuzz_entra.cc: libFuzzer target for the readers of IdP answers: the bytes
// are the body of a 200, a 400 and a 503 from the token endpoint and of a
// device-code answer, and a JSON document. Messages must stay one bounded
// line, and a success must carry a usable token.
// fuzz-sources: src/core/entra.cc src/plug/json.cc src/core/http.cc src/plug/secret.cc src/plug/crypto.cc src/plug/base64.cc src/plug/protocol.cc
#include "entra.hh"
#include "json.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo;

// Abort when a result breaks the readers' promises.
static void check(const TokenResult &r)
{
    if (r.message.size() > 400 || r.message.find_first_of("\r\n") != std::string::npos)
        abort();
    if (r.outcome == Outcome::Ok && (r.access_token.empty() || r.expires_in < 1))
        abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string body((const char *)data, size);
    for (long status : {200L, 400L, 503L}) {
        HttpResponse resp;
        resp.status = status;
        resp.body = Secret(body);
        check(read_token_response(resp));
        DeviceCode dc;
        std::string msg;
        read_devicecode_response(resp, dc, msg);
    }
    JsonPtr j;
    std::string error;
    json_parse_object(body, j, error);
    return 0;
}
