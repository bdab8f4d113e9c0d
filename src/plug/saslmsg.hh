// saslmsg.hh: the bytes of the XOAUTH2 and OAUTHBEARER (RFC 7628) SASL
// exchanges. Builders for the client's initial responses, parsers for the
// server's error challenge and for client messages (the same parsers a
// server uses; exercised by the unit tests and fuzz targets). Everything
// parsed here is untrusted and bounded.
#pragma once

#include <string>
#include <string_view>

namespace exo::sasl {

// Largest message either side is willing to handle (a token plus framing).
constexpr size_t MAX_MESSAGE = 16384;

// "user=<user>^Aauth=Bearer <token>^A^A"
std::string xoauth2_initial(std::string_view user, std::string_view token);

// "n,a=<authzid>,^Ahost=<host>^Aport=<port>^Aauth=Bearer <token>^A^A";
// authzid is escaped as a saslname (',' -> =2C, '=' -> =3D); empty host or
// port leave their key out.
std::string oauthbearer_initial(std::string_view authzid, std::string_view host, std::string_view port,
                                std::string_view token);

// What the client answers to an error challenge: empty for XOAUTH2, a
// single ^A for OAUTHBEARER (RFC 7628 section 3.2.3).
std::string error_reply(bool oauthbearer);

// The server's error challenge: a JSON object with status (required),
// schemes and scope (optional).
struct ServerError {
    std::string status;
    std::string schemes;
    std::string scope;
};
bool parse_server_error(std::string_view challenge, ServerError &out, std::string &error);

// A client's message, as a server reads it.
struct ClientMessage {
    std::string user;   // XOAUTH2 user= / OAUTHBEARER a= (unescaped)
    std::string token;  // after "Bearer "
    std::string host;   // OAUTHBEARER only, may be empty
    std::string port;
};
bool parse_xoauth2(std::string_view msg, ClientMessage &out, std::string &error);
bool parse_oauthbearer(std::string_view msg, ClientMessage &out, std::string &error);

// "ip;port" (Cyrus's ipremoteport) -> port, or "" when absent or malformed.
std::string port_of(std::string_view ipport);

} // namespace exo::sasl
