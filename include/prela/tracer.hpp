// The tracer: starting spans, configuration, lifecycle and counters.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "prela/attributes.hpp"
#include "prela/context.hpp"
#include "prela/exporter.hpp"
#include "prela/remote_context.hpp"
#include "prela/sampler.hpp"
#include "prela/span.hpp"

namespace prela {

/// The ranges init() and from_env() accept (docs/configuration.md): beyond them a
/// queue cannot be allocated or a deadline overflows.
namespace limits {
/// Largest max_queue_size and max_export_batch_size: 2^24 spans.
inline constexpr std::size_t max_queue_size = std::size_t{1} << 24;
/// Longest schedule_delay, export_timeout and OTLP timeout: one day.
inline constexpr std::chrono::milliseconds max_duration{86'400'000};
}  // namespace limits

struct tracer_options {
  /// `service.name` of every span; empty means "unknown_service" (OpenTelemetry's default).
  std::string service_name;
  /// null means parent_based(always_on()).
  std::shared_ptr<prela::sampler> sampler;
  std::vector<std::shared_ptr<prela::exporter>> exporters;
  /// Batch processor limits, named and defaulted as OpenTelemetry's OTEL_BSP_*.
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;
  std::chrono::milliseconds schedule_delay{5000};
  std::chrono::milliseconds export_timeout{30000};
  /// Extra resource attributes (service.name is added from service_name).
  prela::attributes resource_attributes;
  /// Stuck-span reporting, off at 0: a span still open this long after it started is
  /// reported once through the diagnostic handler, with its open ancestors (root → …
  /// → span), within a second of crossing it, and counted in tracer_stats::slow_spans.
  /// 0 to 86400000 ms (a day); PRELA_SLOW_SPAN_THRESHOLD in from_env().
  std::chrono::milliseconds slow_span_threshold{0};

  /// Options from the OpenTelemetry environment variables (see docs/configuration.md).
  /// An invalid or out-of-range value gives one warning naming the variable, the valid
  /// range and the default used instead. OTEL_TRACES_EXPORTER chooses among the
  /// exporters the program links: console with prela::core alone; otlp, jsonl and
  /// perfetto too with prela::exporters (part of prela::prela). Naming one that is not
  /// linked gives a warning saying which library has it.
  static tracer_options from_env();
};

/// Counters since the process started (they survive shutdown and init).
struct tracer_stats {
  std::uint64_t started = 0;
  std::uint64_t ended = 0;
  /// Spans delivered successfully, counted once per exporter.
  std::uint64_t exported = 0;
  /// Spans lost: queue full, ended after shutdown, an exporter's backlog full.
  std::uint64_t dropped = 0;
  /// Spans in batches an exporter reported as failed, counted once per exporter.
  std::uint64_t export_failures = 0;
  std::uint64_t mutations_after_end = 0;
  /// Span scopes that ended while a different context was current, or below another
  /// open scope of their own, and work that ran under its thread's own context because
  /// its flow was installed on another thread past the retry budget (see
  /// troubleshooting.md).
  std::uint64_t context_mismatches = 0;
  /// Spans reported as open past tracer_options::slow_span_threshold.
  std::uint64_t slow_spans = 0;
};

namespace detail {
class tracer_impl;
class span_factory;

/// Shared part of span_scope and span_handle: owns one started span and the context it
/// was pushed on (pinned, so it is popped there even from a foreign thread).
class activation {
 public:
  activation(activation&& other) noexcept;
  activation& operator=(activation&& other) noexcept;
  activation(const activation&) = delete;
  activation& operator=(const activation&) = delete;

  prela::span* operator->() const noexcept { return &get(); }
  prela::span& operator*() const noexcept { return get(); }
  [[nodiscard]] prela::span& get() const noexcept {
    if constexpr (!instrumented) return inert_span();
    return *span_;
  }

 protected:
  activation(span_ref s, context_pin ctx, bool is_scope) noexcept;
  ~activation() { finish(); }
  void finish() noexcept;

 private:
  span_ref span_;
  context_pin ctx_;
  int uncaught_ = 0;
  bool is_scope_ = false;  // lexical scopes report context mismatches; handles may end anywhere
};
}  // namespace detail

/// The span of a lexical scope: current from construction, ended (and the previous span
/// current again) on destruction. Left by an exception, the span records it
/// (error status, error.type, error.message). Move-only.
class span_scope : public detail::activation {
 public:
  span_scope(span_scope&&) noexcept = default;
  span_scope& operator=(span_scope&&) noexcept = default;
  ~span_scope() = default;

 private:
  friend class tracer;
  span_scope(detail::span_ref s, detail::context_pin ctx) noexcept
      : activation(std::move(s), std::move(ctx), true) {}
};

/// A span ended explicitly with end() (or when the handle is destroyed). Ending a span
/// that is not the innermost removes exactly that span from its context.
class span_handle : public detail::activation {
 public:
  span_handle(span_handle&&) noexcept = default;
  span_handle& operator=(span_handle&&) noexcept = default;
  ~span_handle() = default;
  void end() noexcept { finish(); }

 private:
  friend class tracer;
  span_handle(detail::span_ref s, detail::context_pin ctx) noexcept
      : activation(std::move(s), std::move(ctx), false) {}
};

class tracer {
 public:
  ~tracer();
  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;

  /// Starts a span as a child of the current span (a new trace, with a sampling decision,
  /// when there is none) and makes it current until the scope ends.
  [[nodiscard]] span_scope span(std::string_view name, span_type type = span_type::custom);
  /// Same, with attributes given to the sampler and recorded on the span.
  [[nodiscard]] span_scope span(std::string_view name, span_type type, prela::attributes attrs);
  /// Continues a trace from another process (see extract() in propagation.hpp): the
  /// span gets the remote trace id and parent, the remote sampled flag goes to the
  /// sampler, and the remote baggage is set in the current context. A remote context
  /// with a trace id but no parent span starts a root span in that trace; one without
  /// a trace id starts a new trace (its baggage still applies).
  [[nodiscard]] span_scope span(std::string_view name, span_type type, const remote_context& parent,
                                prela::attributes attrs = {});
  /// Same, for a remote context used once (`tracer.span(name, type, prela::extract(h))`):
  /// its baggage moves into the current context when that has none, instead of being
  /// shared with it.
  [[nodiscard]] span_scope span(std::string_view name, span_type type, remote_context&& parent,
                                prela::attributes attrs = {});
  [[nodiscard]] span_handle start_span(std::string_view name, span_type type = span_type::custom);
  [[nodiscard]] span_handle start_span(std::string_view name, span_type type, prela::attributes attrs);
  [[nodiscard]] span_handle start_span(std::string_view name, span_type type, const remote_context& parent,
                                       prela::attributes attrs = {});
  [[nodiscard]] span_handle start_span(std::string_view name, span_type type, remote_context&& parent,
                                       prela::attributes attrs = {});

  [[nodiscard]] tracer_stats stats() const;

  /// Starts exporting with these options (replacing a previous configuration, which is
  /// shut down first). Throws std::invalid_argument for zero queue or batch sizes.
  void init(tracer_options options);
  bool shutdown(std::chrono::milliseconds timeout);
  bool force_flush(std::chrono::milliseconds timeout);

 private:
  friend tracer& get_tracer();
  tracer();  // the one tracer is get_tracer()'s

  std::unique_ptr<detail::tracer_impl> impl_;
};

/// The global tracer. Before init(), spans nest and propagate and are discarded at end.
tracer& get_tracer();
void init(tracer_options options);
/// Delivers every ended span to the exporters, shuts them down and stops background
/// work. Spans started afterwards are discarded and counted. init() may follow.
bool shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(30));
/// Delivers every span ended so far to the exporters and flushes them.
bool force_flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace prela
