// metrics.cc: histograms and the Prometheus text exposition format 0.0.4
// (see metrics.hh). Escaping follows the format: in label values \ " and
// newline, in HELP text \ and newline; values are written shortest-exact.
#include "metrics.hh"

#include <charconv>
#include <cmath>

namespace exo {

// Cached answers take microseconds; a request that waits for the IdP
// takes up to http_timeout.
const double kRequestBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                  0.05,   0.25,    1,      5,     30};
const size_t kRequestBucketCount = sizeof(kRequestBuckets) / sizeof(kRequestBuckets[0]);
// An HTTPS round trip to Entra ID: tens of milliseconds to http_timeout.
const double kIdpBuckets[] = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const size_t kIdpBucketCount = sizeof(kIdpBuckets) / sizeof(kIdpBuckets[0]);

// A histogram over the first n (at most HISTOGRAM_MAX_BUCKETS) bounds.
Histogram::Histogram(const double *bounds, size_t n)
    : bounds_(bounds), n_(n < HISTOGRAM_MAX_BUCKETS ? n : HISTOGRAM_MAX_BUCKETS)
{
}

// Count v in the first bucket whose bound holds it (none: only +Inf).
void Histogram::observe(double v)
{
    for (size_t i = 0; i < n_; i++)
        if (v <= bounds_[i]) {
            buckets_[i]++;
            break;
        }
    count_++;
    sum_ += v;
}

// Observations up to bound(i).
uint64_t Histogram::cumulative(size_t i) const
{
    uint64_t n = 0;
    for (size_t j = 0; j <= i && j < n_; j++)
        n += buckets_[j];
    return n;
}

// Append v to out as a label value: \ " and newline escaped.
static void append_escaped(std::string &out, std::string_view v)
{
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

// Append v to out as a sample value (see metric_value).
static void append_value(std::string &out, double v)
{
    char buf[32];
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {  // whole: never 1.764e+09
        auto r = std::to_chars(buf, buf + sizeof(buf), (long long)v);
        out.append(buf, r.ptr);
    } else {
        auto r = std::to_chars(buf, buf + sizeof(buf), v, std::abs(v) >= 1e-9 ? std::chars_format::fixed
                                                                           : std::chars_format::general);
        out.append(buf, r.ptr);
    }
}

// See metrics.hh.
std::string metric_escape(std::string_view v)
{
    std::string out;
    append_escaped(out, v);
    return out;
}

// See metrics.hh.
std::string metric_value(double v)
{
    std::string out;
    append_value(out, v);
    return out;
}

// HELP text escaping: \ and newline only.
static std::string help_escape(const char *help)
{
    std::string out;
    for (const char *p = help; *p; p++)
        out += *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : std::string(1, *p);
    return out;
}

// See metrics.hh.
void Exposition::family(const char *name, const char *type, const char *help)
{
    out_.append("# HELP ").append(name).append(" ").append(help_escape(help)).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// name+suffix{labels[,le="..."]} and the space before the value.
void Exposition::head(const char *name, const char *suffix, Labels labels, const double *le)
{
    out_.append(name).append(suffix);
    bool first = true;
    for (const Label &l : labels) {
        out_.append(first ? "{" : ",").append(l.name).append("=\"");
        append_escaped(out_, l.value);
        out_ += '"';
        first = false;
    }
    if (le) {
        out_.append(first ? "{" : ",").append("le=\"");
        append_value(out_, *le);
        out_ += '"';
    }
    if (!first || le)
        out_ += '}';
    out_ += ' ';
}

// See metrics.hh.
void Exposition::sample(const char *name, Labels labels, double value)
{
    head(name, "", labels, nullptr);
    append_value(out_, value);
    out_ += '\n';
}

// See metrics.hh.
void Exposition::histogram(const char *name, Labels labels, const Histogram &h)
{
    static const double inf = HUGE_VAL;
    uint64_t below = 0;
    for (size_t i = 0; i <= h.size(); i++) {
        below = i < h.size() ? h.cumulative(i) : h.count();
        head(name, "_bucket", labels, i < h.size() ? &h.bounds()[i] : &inf);
        append_value(out_, (double)below);
        out_ += '\n';
    }
    head(name, "_sum", labels, nullptr);
    append_value(out_, h.sum());
    out_ += '\n';
    head(name, "_count", labels, nullptr);
    append_value(out_, (double)h.count());
    out_ += '\n';
}

} // namespace exo
