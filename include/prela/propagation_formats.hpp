// The header formats prela reads and writes, their header names and their limits
// (extract() and inject() in propagation.hpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace prela {

/// Which header formats extract() reads and inject() writes.
enum class formats : unsigned {
  none = 0,
  trace_context = 1U << 0,  ///< W3C traceparent + tracestate
  baggage = 1U << 1,        ///< W3C baggage
  x_trace_id = 1U << 2,     ///< X-Trace-ID / X-Span-ID, as prela for Python writes them
  w3c = trace_context | baggage,
  all = trace_context | baggage | x_trace_id,
};
constexpr formats operator|(formats a, formats b) noexcept {
  return static_cast<formats>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr formats operator&(formats a, formats b) noexcept {
  return static_cast<formats>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
/// True when `set` includes every format of `f`.
constexpr bool includes(formats set, formats f) noexcept { return (set & f) == f && f != formats::none; }

/// Header names as prela writes them.
namespace header {
inline constexpr std::string_view traceparent = "traceparent";
inline constexpr std::string_view tracestate = "tracestate";
inline constexpr std::string_view baggage = "baggage";
inline constexpr std::string_view x_trace_id = "X-Trace-ID";
inline constexpr std::string_view x_span_id = "X-Span-ID";
}  // namespace header

/// Limits applied to incoming and outgoing headers.
namespace propagation_limits {
inline constexpr std::size_t baggage_entries = 180;  ///< W3C minimum: 64
inline constexpr std::size_t baggage_bytes = 8192;   ///< of the serialized header
inline constexpr std::size_t tracestate_members = 32;
inline constexpr std::size_t tracestate_bytes = 512;  ///< longer tracestate is truncated
}  // namespace propagation_limits

}  // namespace prela
