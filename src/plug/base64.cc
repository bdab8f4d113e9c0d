// base64.cc: strict base64 (RFC 4648 section 4) and unpadded base64url
// (section 5). Decoders take untrusted input (JWT segments, SASL messages)
// and refuse anything that is not the canonical encoding.
#include "base64.hh"

#include <array>
#include <cstdint>

namespace exo {

namespace {
constexpr char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Reverse table of an alphabet: 0..63, or -1 for bytes outside it.
std::array<int8_t, 256> reverse(const char *alphabet)
{
    std::array<int8_t, 256> t;
    t.fill(-1);
    for (int i = 0; i < 64; i++)
        t[(unsigned char)alphabet[i]] = (int8_t)i;
    return t;
}

// Encode with alphabet; pad with '=' when asked.
std::string encode(std::string_view in, const char *alphabet, bool pad)
{
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t)in[i] << 16 | (uint8_t)in[i + 1] << 8 | (uint8_t)in[i + 2];
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    size_t rest = in.size() - i;
    if (rest) {
        uint32_t v = (uint8_t)in[i] << 16 | (rest == 2 ? (uint8_t)in[i + 1] << 8 : 0);
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        if (rest == 2)
            out += alphabet[(v >> 6) & 63];
        if (pad)
            out.append(3 - rest, '=');
    }
    return out;
}

// Decode unpadded symbols; refuse stray bytes and non-zero trailing bits.
bool decode(std::string_view in, const std::array<int8_t, 256> &t, std::string &out)
{
    if (in.size() % 4 == 1)
        return false;
    std::string r;
    r.reserve(in.size() / 4 * 3 + 2);
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        if (t[c] < 0)
            return false;
        acc = (acc << 6) | (uint32_t)t[c];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            r += (char)((acc >> bits) & 0xff);
        }
    }
    if (bits && (acc & ((1u << bits) - 1)))
        return false;
    out = std::move(r);
    return true;
}
} // namespace

// base64url, no padding.
std::string base64url_encode(std::string_view in)
{
    return encode(in, URL, false);
}

// Strict unpadded base64url decoding.
bool base64url_decode(std::string_view in, std::string &out)
{
    static const auto table = reverse(URL);
    return decode(in, table, out);
}

// Standard base64 with padding.
std::string base64_encode(std::string_view in)
{
    return encode(in, STD, true);
}

// Strict padded base64 decoding.
bool base64_decode(std::string_view in, std::string &out)
{
    static const auto table = reverse(STD);
    if (in.size() % 4)
        return false;
    size_t pad = 0;
    while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=')
        pad++;
    return decode(in.substr(0, in.size() - pad), table, out);
}

} // namespace exo
