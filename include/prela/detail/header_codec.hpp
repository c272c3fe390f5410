// Behind extract() and inject(): the headers found in a carrier, the headers to write,
// and the carrier concepts. Decoding and encoding are in propagation.cpp.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "prela/propagation_formats.hpp"
#include "prela/remote_context.hpp"

namespace prela::detail {

/// The values of the headers prela knows, as found in one carrier. Views into the
/// carrier, valid for one extract() call.
class incoming_headers {
 public:
  /// More tracestate or baggage header lines than this are not read (a request with
  /// that many is hostile; the entries past the limit are dropped).
  static constexpr std::size_t max_lines = 8;

  /// Records the value if `name` is one of the known headers (any case).
  void add(std::string_view name, std::string_view value) noexcept;
  /// Records it the same way, skipping without a call the names whose length no known
  /// header has (most of a request's headers).
  void add_if_known(std::string_view name, std::string_view value) noexcept {
    // "baggage" 7, "X-Span-ID" 9, "tracestate" and "X-Trace-ID" 10, "traceparent" 11.
    constexpr unsigned lengths = (1U << 7) | (1U << 9) | (1U << 10) | (1U << 11);
    if (name.size() < 32 && ((lengths >> name.size()) & 1U) != 0) add(name, value);
  }

  /// A header that must appear once: only the first value is kept.
  struct single {
    std::string_view value;
    std::size_t count = 0;
  };
  /// A list header whose lines combine.
  struct lines {
    std::array<std::string_view, max_lines> values;
    std::size_t count = 0;  // may exceed max_lines: then the extra ones were not kept
  };
  single traceparent;
  lines tracestate;
  lines baggage;
  single x_trace_id;
  single x_span_id;
};

/// Decodes what add() collected into a remote context.
remote_context decode(const incoming_headers& in, formats f);

/// The headers that describe the current context, ready to be written.
struct outgoing_headers {
  std::array<char, 55> traceparent{};  // "00-<trace>-<span>-<flags>"
  bool has_traceparent = false;
  std::string_view tracestate;  // the current span's; valid while it is current
  std::string_view baggage;     // kept with the context's baggage (or a per-thread buffer): use at once
  std::array<char, 32> x_trace_id{};
  bool has_x_trace_id = false;
  std::array<char, 16> x_span_id{};
  bool has_x_span_id = false;

  [[nodiscard]] std::string_view traceparent_value() const noexcept { return {traceparent.data(), 55}; }
  [[nodiscard]] std::string_view x_trace_id_value() const noexcept { return {x_trace_id.data(), 32}; }
  [[nodiscard]] std::string_view x_span_id_value() const noexcept { return {x_span_id.data(), 16}; }
};

/// Fills `out` from the current span and context (nothing when there is none).
void encode_current(outgoing_headers& out, formats f);

/// True if `name` is one of the headers of `f` (any case).
bool is_propagation_header(std::string_view name, formats f) noexcept;

/// The headers prela writes, in the order write() writes them.
enum class header_kind : std::uint8_t { traceparent, tracestate, baggage, x_trace_id, x_span_id, none };
inline constexpr int header_kinds = 5;
/// Which header of `f` `name` is (any case), or none; `exact` is set when `name` is
/// spelled as prela writes it.
header_kind classify(std::string_view name, formats f, bool& exact) noexcept;
/// The name prela writes for `k`.
std::string_view name_of(header_kind k) noexcept;
/// The value write() gives header `k`, or nothing when it writes no such header.
std::optional<std::string_view> value_for(const outgoing_headers& out, formats f, header_kind k) noexcept;

template <class C>
concept field_list = requires(const C& c) {
  { c.begin()->name_string() };
  { c.begin()->value() };
};

template <class C>
concept string_map = requires(const C& c) {
  typename C::key_type;
  typename C::mapped_type;
  { c.begin()->first } -> std::convertible_to<std::string_view>;
  { c.begin()->second } -> std::convertible_to<std::string_view>;
};

/// Sets a carrier's header value. A reused carrier mostly gets a value of the length
/// it had (a traceparent is always 55 characters): then the characters are overwritten
/// in place, without the general replace.
template <class Value>
void assign_value(Value& to, std::string_view value) {
  if constexpr (std::is_same_v<Value, std::string>) {
    if (to.size() == value.size()) {
      if (!value.empty()) std::memcpy(to.data(), value.data(), value.size());
      return;
    }
  }
  to.assign(value.data(), value.size());
}

template <class G>
concept header_getter = requires(const G& get, std::string_view name) {
  { static_cast<bool>(get(name)) };
  { *get(name) } -> std::convertible_to<std::string_view>;
};

template <class S>
concept header_setter = std::invocable<S&, std::string_view, std::string_view>;

template <class Set>
void write(const outgoing_headers& out, formats f, Set&& set) {
  if (includes(f, formats::trace_context) && out.has_traceparent) {
    set(header::traceparent, out.traceparent_value());
    if (!out.tracestate.empty()) set(header::tracestate, out.tracestate);
  }
  if (includes(f, formats::baggage) && !out.baggage.empty()) set(header::baggage, out.baggage);
  if (includes(f, formats::x_trace_id)) {
    if (out.has_x_trace_id) set(header::x_trace_id, out.x_trace_id_value());
    if (out.has_x_span_id) set(header::x_span_id, out.x_span_id_value());
  }
}

}  // namespace prela::detail
