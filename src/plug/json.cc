// json.cc: bounded parsing and typed access for jansson values (see
// json.hh). Input is untrusted: its size is capped before jansson reads it,
// duplicate keys are refused, and only an object is accepted at the top.
#include "json.hh"

namespace exo {

// Parse text as one JSON object.
bool json_parse_object(std::string_view text, JsonPtr &out, std::string &error)
{
    if (text.size() > JSON_MAX_BYTES) {
        error = "JSON document too large";
        return false;
    }
    json_error_t jerr;
    JsonPtr j(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &jerr));
    if (!j) {
        error = std::string("bad JSON: ") + jerr.text;
        return false;
    }
    if (!json_is_object(j.get())) {
        error = "JSON is not an object";
        return false;
    }
    out = std::move(j);
    return true;
}

// A string member.
bool json_get_string(const json_t *obj, const char *key, std::string &out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return false;
    out.assign(json_string_value(v), json_string_length(v));
    return true;
}

// An integer member.
bool json_get_int(const json_t *obj, const char *key, int64_t &out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return false;
    out = (int64_t)json_integer_value(v);
    return true;
}

// Compact serialisation; "" if jansson fails.
std::string json_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return "";
    std::string r(s);
    free(s);
    return r;
}

} // namespace exo
