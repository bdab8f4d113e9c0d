// json.hh: RAII ownership and bounded parsing of jansson values.
// Every json_t the project creates or parses is held by a JsonPtr. Parsing
// takes untrusted input (IdP responses, JWT segments): size is capped before
// jansson sees it and duplicates keys are refused.
#pragma once

#include <jansson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace exo {

struct JsonDeleter {
    void operator()(json_t *j) const { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;

// Largest JSON document we ever parse (IdP bodies, JWT claims).
constexpr size_t JSON_MAX_BYTES = 256 * 1024;

// Parse a JSON object (not an array or scalar). False with a reason on error.
bool json_parse_object(std::string_view text, JsonPtr &out, std::string &error);

// Typed member look-ups; false when missing or of another type.
bool json_get_string(const json_t *obj, const char *key, std::string &out);
bool json_get_int(const json_t *obj, const char *key, int64_t &out);

// Compact serialisation (keys in insertion order).
std::string json_dump(const json_t *j);

} // namespace exo
