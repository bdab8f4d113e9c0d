// metrics.hh: counters, histograms and their rendering in the Prometheus
// text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/
// exposition_formats). Updating a figure never allocates: a histogram is a
// fixed array of buckets over static bounds. Used by exoauthd's metrics
// registry (src/daemon/metrics.cc) on its event-loop thread only, so
// nothing here locks. Label values are escaped; callers never pass a
// token, a secret or a token hash as one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace exo {

constexpr size_t HISTOGRAM_MAX_BUCKETS = 16;

// Upper bounds (seconds) for answers from memory: TOKEN and VALIDATE.
extern const double kRequestBuckets[];
extern const size_t kRequestBucketCount;
// Upper bounds (seconds) for HTTPS requests to the IdP.
extern const double kIdpBuckets[];
extern const size_t kIdpBucketCount;

// A histogram over fixed upper bounds (ascending, +Inf implied).
class Histogram {
public:
    Histogram(const double *bounds, size_t n);
    // Count one observation.
    void observe(double v);
    size_t size() const { return n_; }
    double bound(size_t i) const { return bounds_[i]; }
    const double *bounds() const { return bounds_; }
    // Observations <= bound(i), cumulative as the format wants them.
    uint64_t cumulative(size_t i) const;
    uint64_t count() const { return count_; }
    double sum() const { return sum_; }

private:
    const double *bounds_;
    size_t n_;
    uint64_t buckets_[HISTOGRAM_MAX_BUCKETS] = {};  // not cumulative
    uint64_t count_ = 0;
    double sum_ = 0;
};

// One label of a sample.
struct Label {
    const char *name;
    std::string_view value;
};
using Labels = std::initializer_list<Label>;

// A label value as the format wants it: \ " and newline escaped.
std::string metric_escape(std::string_view v);
// A sample value: the shortest exact decimal without an exponent (above
// 1e-9), +Inf, -Inf or NaN.
std::string metric_value(double v);

// A text exposition being written, family after family.
class Exposition {
public:
    // "# HELP" and "# TYPE" of a family (type: counter, gauge, histogram).
    void family(const char *name, const char *type, const char *help);
    // One sample line.
    void sample(const char *name, Labels labels, double value);
    // The _bucket lines (cumulative, up to le="+Inf"), _sum and _count.
    void histogram(const char *name, Labels labels, const Histogram &h);
    const std::string &text() const { return out_; }

private:
    void head(const char *name, const char *suffix, Labels labels, const double *le);
    std::string out_;
};

} // namespace exo
