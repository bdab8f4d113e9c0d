// base64.hh: base64 (RFC 4648 section 4) and base64url without padding
// (section 5, as JOSE uses it). Decoders are strict: they reject characters
// outside the alphabet, bad padding and non-zero trailing bits, and take
// untrusted input (JWTs, SASL messages).
#pragma once

#include <string>
#include <string_view>

namespace exo {

std::string base64url_encode(std::string_view in);
// Accepts input without padding ('=' is refused). False on any bad input.
bool base64url_decode(std::string_view in, std::string &out);

std::string base64_encode(std::string_view in);
// Requires correct '=' padding. False on any bad input.
bool base64_decode(std::string_view in, std::string &out);

} // namespace exo
