// Sampling: which traces are recorded and exported.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "prela/attributes.hpp"
#include "prela/ids.hpp"
#include "prela/span.hpp"

namespace prela {

/// What a sampler is told about a span about to start.
struct sampling_parameters {
  prela::trace_id trace_id;
  std::string_view name;
  prela::span_type type = prela::span_type::custom;
  /// The parent's sampled flag, when the span has a parent (local or remote).
  std::optional<bool> parent_sampled;
  bool parent_is_remote = false;
  const prela::attributes* attributes = nullptr;
};

/// Decides whether a span is sampled (recorded and exported). Unsampled spans still
/// nest and propagate (`sampled=0` downstream) and cost close to nothing.
/// Implementations must be thread-safe.
class sampler {
 public:
  virtual ~sampler() = default;
  virtual bool should_sample(const sampling_parameters& params) = 0;
  /// For logs and docs, e.g. "parent_based(probability(0.25))".
  [[nodiscard]] virtual std::string description() const = 0;
};

std::shared_ptr<sampler> always_on();
std::shared_ptr<sampler> always_off();
/// Samples a fraction of traces, decided from the trace id alone (its lower 56 bits, as
/// OpenTelemetry's consistent probability sampling does), so every service agrees.
/// Throws std::invalid_argument unless 0 <= rate <= 1.
std::shared_ptr<sampler> probability(double rate);
/// At most `per_second` new traces per second (token bucket, bursts up to one second's
/// worth). Throws std::invalid_argument unless per_second is finite and >= 0.
std::shared_ptr<sampler> rate_limiting(double per_second);
/// Follows the parent's sampled flag when there is a parent, local or remote;
/// asks `root` for new traces. Throws std::invalid_argument if root is null.
std::shared_ptr<sampler> parent_based(std::shared_ptr<sampler> root);

}  // namespace prela
