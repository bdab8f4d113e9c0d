// fuzz_saslmsg.cc: libFuzzer target for the SASL message parsers: the
// server's RFC 7628 error challenge (what the Postfix plugin reads from the
// server) and the XOAUTH2 / OAUTHBEARER client messages. The first byte
// picks the parser; an accepted client message must survive a round trip.
// fuzz-sources: src/plug/saslmsg.cc src/plug/json.cc src/plug/secret.cc src/plug/crypto.cc src/plug/base64.cc
#include "saslmsg.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo::sasl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    std::string in((const char *)data + 1, size - 1), error;
    ClientMessage m, again;
    ServerError se;
    switch (data[0] % 3) {
    case 0:
        if (parse_server_error(in, se, error) && se.status.empty())
            abort();
        break;
    case 1:
        if (parse_xoauth2(in, m, error) &&
            (!parse_xoauth2(xoauth2_initial(m.user, m.token), again, error) || again.token != m.token))
            abort();
        break;
    default:
        if (parse_oauthbearer(in, m, error) &&
            (!parse_oauthbearer(oauthbearer_initial(m.user, m.host, m.port, m.token), again, error) ||
             again.token != m.token || again.user != m.user))
            abort();
        break;
    }
    return 0;
}
