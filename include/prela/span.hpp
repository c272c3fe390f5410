// Spans: the live, mutable `span` and the immutable `span_data` handed to exporters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "prela/attributes.hpp"
#include "prela/config.hpp"
#include "prela/detail/ref_ptr.hpp"
#include "prela/detail/spin_lock.hpp"
#include "prela/ids.hpp"

namespace prela {

class tracer;
class trace_context;
namespace detail {
class tracer_impl;
}

/// What a span represents. The names are those of prela for Python (whose API prela
/// mirrors), so traces from both read alike.
enum class span_type : std::uint8_t { agent, llm, tool, retrieval, embedding, custom };
/// "agent", "llm", "tool", "retrieval", "embedding" or "custom".
std::string_view to_string(span_type type) noexcept;

enum class span_status : std::uint8_t { unset, ok, error };
/// "unset", "ok" or "error".
std::string_view to_string(span_status status) noexcept;

/// W3C trace-flags bits.
inline constexpr std::uint8_t trace_flag_sampled = 0x01;
inline constexpr std::uint8_t trace_flag_random = 0x02;  // Trace Context Level 2

/// Limits per span, as in OpenTelemetry's defaults. Past them, further attributes and
/// events are dropped and counted in span_data::dropped_attributes / dropped_events.
inline constexpr std::size_t max_attributes_per_span = 128;
inline constexpr std::size_t max_events_per_span = 128;

/// A timestamped annotation on a span.
struct span_event {
  std::string name;
  std::chrono::nanoseconds time{};  // since the Unix epoch
  prela::attributes attributes;
};

/// Who produced the spans (OpenTelemetry "resource"). Shared by all spans of a tracer.
struct resource {
  std::string service_name;
  prela::attributes attributes;  // always contains service.name
};

/// The record of an ended span, as exporters receive it.
struct span_data {
  std::string name;
  prela::span_type type = prela::span_type::custom;
  prela::trace_id trace_id;
  prela::span_id span_id;
  prela::span_id parent_span_id;  // invalid for a root
  bool parent_is_remote = false;  // the parent came from another process (headers)
  prela::span_status status = prela::span_status::unset;
  std::string status_message;
  std::chrono::nanoseconds start_time{};  // since the Unix epoch
  std::chrono::nanoseconds end_time{};
  prela::attributes attributes;
  std::vector<span_event> events;
  std::uint32_t dropped_attributes = 0;
  std::uint32_t dropped_events = 0;
  std::shared_ptr<const prela::resource> resource;
  std::uint8_t trace_flags = trace_flag_sampled;
  std::string trace_state;

  /// The attribute's value, or nullptr if the span has no such key.
  [[nodiscard]] const attribute_value* attribute(std::string_view key) const noexcept;
  [[nodiscard]] std::chrono::nanoseconds duration() const noexcept { return end_time - start_time; }
};

class span;
namespace detail {
class span_factory;
class activation;
/// What span scopes and handles point to in a build without instrumentation
/// (PRELA_INSTRUMENTATION=0): one span that records nothing and never ends.
prela::span& inert_span() noexcept;
}  // namespace detail

/// A live span. Obtained from `tracer::span()` / `tracer::start_span()` or
/// `current_span()`. Thread-safe: several threads may annotate one span. Mutating an
/// ended span does nothing and is counted in `tracer::stats().mutations_after_end`.
class span {
 public:
  span(const span&) = delete;
  span& operator=(const span&) = delete;

  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  [[nodiscard]] span_type type() const noexcept { return type_; }
  [[nodiscard]] prela::trace_id trace_id() const noexcept { return trace_id_; }
  [[nodiscard]] prela::span_id span_id() const noexcept { return span_id_; }
  [[nodiscard]] prela::span_id parent_span_id() const noexcept { return parent_span_id_; }
  [[nodiscard]] bool is_sampled() const noexcept { return (trace_flags_ & trace_flag_sampled) != 0; }
  [[nodiscard]] std::uint8_t trace_flags() const noexcept { return trace_flags_; }
  [[nodiscard]] const std::string& trace_state() const noexcept { return trace_state_; }
  [[nodiscard]] bool is_ended() const noexcept { return ended_.load(std::memory_order_acquire); }

  void set_attribute(std::string_view key, attribute_value value);
  void add_event(std::string_view name, prela::attributes attrs = {});
  void set_status(span_status status, std::string_view message = {});
  /// Error status with the exception's message, plus `error.type` (the demangled
  /// dynamic type) and `error.message` attributes and an "exception" event.
  void record_exception(const std::exception& e);
  /// Same, for an exception_ptr (non-std exceptions get error.type "unknown").
  void record_exception(std::exception_ptr e);
  /// Ends the span; later calls do nothing.
  void end() noexcept;

  // Intrusive reference count (see detail::ref_ptr).
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // A sole owner needs no locked instruction: new references are only ever taken
    // by a holder of one (a fork of the flow this span is current in), so a count of
    // one cannot grow under us.
    if (refs_.load(std::memory_order_acquire) == 1 || refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      destroy();
    }
  }

 private:
  friend class detail::span_factory;
  friend class detail::activation;
  friend class prela::trace_context;
  friend prela::span& detail::inert_span() noexcept;
  span() = default;
  ~span() = default;
  void destroy() noexcept;
  bool begin_mutation();  // locks mu_ when the span is recording; false when it is not
  void record_error(std::string_view type, std::string_view message);

  std::atomic<std::uint32_t> refs_{1};
  std::atomic<bool> ended_{false};
  // How the span stands with the span stack of the context it was opened in (see
  // trace_context::remove_foreign): on it, taken off it, or ended by another thread
  // and waiting for its own flow to take it off (the stack then holds a reference).
  enum link : std::uint8_t { linked, unlinked, removal_pending };
  std::atomic<std::uint8_t> link_{unlinked};
  span_type type_ = span_type::custom;
  std::uint8_t trace_flags_ = 0;
  bool parent_is_remote_ = false;
  bool recording_ = false;               // sampled and a processor was running at start
  bool handle_ = false;                  // owned by a span_handle (not a lexical span_scope)
  std::uint32_t config_generation_ = 0;  // the tracer configuration it started under
  span* next_free_ = nullptr;            // per-thread recycling list
  // Its entry in prela::inflight()'s record while open (detail::inflight_ticket).
  void* inflight_slot_ = nullptr;
  std::uint64_t inflight_state_ = 0;
  const detail::tracer_impl* tracer_ = nullptr;
  prela::trace_id trace_id_;
  prela::span_id span_id_;
  prela::span_id parent_span_id_;
  std::string name_;
  std::string trace_state_;
  std::chrono::nanoseconds start_time_{};
  std::chrono::nanoseconds end_time_{};

  // Recorded while the span is live; guarded by mu_. Only sampled spans record.
  detail::spin_lock mu_;
  span_status status_ = span_status::unset;
  std::string status_message_;
  prela::attributes attributes_;
  std::vector<span_event> events_;
  std::uint32_t dropped_attributes_ = 0;
  std::uint32_t dropped_events_ = 0;
};

namespace detail {
using span_ref = ref_ptr<span>;
}

}  // namespace prela
