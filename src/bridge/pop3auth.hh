// pop3auth.hh: the one rewrite exoauth-pop3-bridge makes. Dovecot's POP3
// proxy sends "AUTH XOAUTH2 <initial response>" on one line; RFC 5034
// limits an AUTH command line to 255 octets and Exchange Online answers a
// longer one with "-ERR Protocol error". split_auth() turns such a line into
// the two-step form (the command, then the response after the server's
// "+"). Pure functions on bytes, no I/O: unit-tested and fuzzed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace exo::bridge {

// RFC 5034 section 4: an AUTH command line, CRLF included, is at most 255 octets.
constexpr size_t kAuthLineLimit = 255;

// When line (CRLF included) is "AUTH <mechanism> <initial response>" and
// longer than limit, set command to "AUTH <mechanism>\r\n" and response to
// "<initial response>\r\n" and return true. Any other line, a malformed AUTH
// included, returns false and changes nothing: it goes upstream as it is.
bool split_auth(std::string_view line, size_t limit, std::string &command, std::string &response);

// True when a server line is a SASL continuation ("+" then SP or CRLF).
bool is_continuation(std::string_view line);

} // namespace exo::bridge
