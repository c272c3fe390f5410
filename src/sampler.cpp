#include "prela/sampler.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace prela {
namespace {

class constant_sampler final : public sampler {
 public:
  explicit constant_sampler(bool decision) : decision_(decision) {}
  bool should_sample(const sampling_parameters&) override { return decision_; }
  [[nodiscard]] std::string description() const override { return decision_ ? "always_on" : "always_off"; }

 private:
  bool decision_;
};

// OpenTelemetry's consistent probability sampling: the lower 56 bits of the trace id
// are its randomness R; a trace is sampled when R >= T, with T = (1 - p) * 2^56. Any
// service applying the same rule to the same trace id decides the same way.
class probability_sampler final : public sampler {
 public:
  explicit probability_sampler(double rate) : rate_(rate) {
    constexpr double two56 = 72057594037927936.0;  // 2^56
    const double t = std::ceil((1.0 - rate) * two56);
    threshold_ = t >= two56 ? limit : static_cast<std::uint64_t>(t);
  }
  bool should_sample(const sampling_parameters& p) override {
    if (threshold_ == limit) return false;
    return (p.trace_id.low() & (limit - 1)) >= threshold_;
  }
  [[nodiscard]] std::string description() const override {
    char buf[64];
    std::snprintf(buf, sizeof buf, "probability(%g)", rate_);
    return buf;
  }

 private:
  static constexpr std::uint64_t limit = std::uint64_t{1} << 56;
  double rate_;
  std::uint64_t threshold_ = 0;
};

// Generic cell rate algorithm (a token bucket expressed as one timestamp): one atomic,
// no lock. Bursts of up to one second's worth of traces pass at once.
class rate_limiting_sampler final : public sampler {
 public:
  explicit rate_limiting_sampler(double per_second) : per_second_(per_second) {
    if (per_second > 0) {
      interval_ns_ = 1e9 / per_second;
      burst_ns_ = std::max(1.0, per_second) * interval_ns_;
    }
  }
  bool should_sample(const sampling_parameters&) override {
    if (per_second_ <= 0) return false;
    const auto now = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::steady_clock::now().time_since_epoch())
                                             .count());
    double tat = tat_.load(std::memory_order_relaxed);
    for (;;) {
      const double start = std::max(tat, now - burst_ns_);
      const double next = start + interval_ns_;
      if (next > now + 1e-3) return false;  // bucket empty
      if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) return true;
    }
  }
  [[nodiscard]] std::string description() const override {
    char buf[64];
    std::snprintf(buf, sizeof buf, "rate_limiting(%g)", per_second_);
    return buf;
  }

 private:
  double per_second_;
  double interval_ns_ = 0;
  double burst_ns_ = 0;
  std::atomic<double> tat_{0};  // theoretical arrival time of the next trace
};

class parent_based_sampler final : public sampler {
 public:
  explicit parent_based_sampler(std::shared_ptr<sampler> root) : root_(std::move(root)) {}
  bool should_sample(const sampling_parameters& p) override {
    if (p.parent_sampled) return *p.parent_sampled;
    return root_->should_sample(p);
  }
  [[nodiscard]] std::string description() const override {
    return "parent_based(" + root_->description() + ")";
  }

 private:
  std::shared_ptr<sampler> root_;
};

}  // namespace

std::shared_ptr<sampler> always_on() {
  static const auto s = std::make_shared<constant_sampler>(true);
  return s;
}

std::shared_ptr<sampler> always_off() {
  static const auto s = std::make_shared<constant_sampler>(false);
  return s;
}

std::shared_ptr<sampler> probability(double rate) {
  if (!(rate >= 0.0 && rate <= 1.0)) {
    throw std::invalid_argument("prela::probability: rate must be in [0, 1], got " + std::to_string(rate));
  }
  return std::make_shared<probability_sampler>(rate);
}

std::shared_ptr<sampler> rate_limiting(double per_second) {
  if (!(per_second >= 0.0) || std::isinf(per_second)) {
    throw std::invalid_argument("prela::rate_limiting: per_second must be finite and >= 0, got " +
                                std::to_string(per_second));
  }
  return std::make_shared<rate_limiting_sampler>(per_second);
}

std::shared_ptr<sampler> parent_based(std::shared_ptr<sampler> root) {
  if (!root) throw std::invalid_argument("prela::parent_based: root sampler is null");
  return std::make_shared<parent_based_sampler>(std::move(root));
}

}  // namespace prela
