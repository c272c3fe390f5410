// Distributed propagation: continue a trace from request headers and pass it on.
//
// Formats: W3C Trace Context (traceparent + tracestate, Level 2), W3C Baggage, and the
// X-Trace-ID / X-Span-ID pair of prela for Python (whose API prela mirrors). A carrier
// is any string-to-string header map (std::map, std::unordered_map,
// boost::beast::http::fields and the requests and responses derived from it), or a
// getter / setter callable for anything else. Header names are matched
// case-insensitively. Hostile input is ignored the way the specs say: nothing throws,
// the request starts a new trace. See docs/propagation.md.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "prela/config.hpp"
#include "prela/remote_context.hpp"

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

namespace detail {

/// The values of the headers prela knows, as found in one carrier. Views into the
/// carrier, valid for one extract() call.
class incoming_headers {
 public:
  /// More tracestate or baggage header lines than this are not read (a request with
  /// that many is hostile; the entries past the limit are dropped).
  static constexpr std::size_t max_lines = 8;

  /// Records the value if `name` is one of the known headers (any case).
  void add(std::string_view name, std::string_view value) noexcept;

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

}  // namespace detail

/// Reads the caller's context from a header map: std::map, std::unordered_map, or a
/// boost::beast::http::fields (a request or its base()), where repeated fields count.
/// Returns an invalid context (is_valid() false) when there is no usable parent; its
/// baggage may still be set.
template <class Carrier>
  requires detail::field_list<Carrier> || detail::string_map<Carrier>
remote_context extract(const Carrier& carrier, formats f = formats::all) {
  if constexpr (!instrumented) return {};
  detail::incoming_headers in;
  if constexpr (detail::field_list<Carrier>) {
    for (const auto& field : carrier) {
      const auto name = field.name_string();
      const auto value = field.value();
      in.add(std::string_view(name.data(), name.size()), std::string_view(value.data(), value.size()));
    }
  } else {
    for (const auto& [name, value] : carrier) in.add(name, value);
  }
  return detail::decode(in, f);
}

/// Reads the caller's context through a getter: `get(name)` is called with a lower-case
/// header name and returns something that tests false when the header is absent and
/// dereferences to its value (std::optional<std::string>, std::optional<std::string_view>,
/// const std::string*). The getter matches names case-insensitively; several lines of
/// one header are passed joined with ",".
template <class Getter>
  requires detail::header_getter<Getter> && (!detail::string_map<Getter>) && (!detail::field_list<Getter>)
remote_context extract(const Getter& get, formats f = formats::all) {
  if constexpr (!instrumented) return {};
  detail::incoming_headers in;
  for (std::string_view name : {"traceparent", "tracestate", "baggage", "x-trace-id", "x-span-id"}) {
    if (auto value = get(name)) in.add(name, std::string_view(*value));
  }
  return detail::decode(in, f);
}

/// Writes the current span's context into a header map. Existing headers of the same
/// formats are replaced (whatever their case), including ones the current context has
/// no value for, so a reused carrier never carries a stale parent.
template <class Carrier>
  requires detail::field_list<Carrier> || detail::string_map<Carrier>
void inject(Carrier& carrier, formats f = formats::all) {
  if constexpr (!instrumented) return;
  detail::outgoing_headers out;
  detail::encode_current(out, f);
  if constexpr (detail::field_list<Carrier>) {
    for (std::string_view name :
         {header::traceparent, header::tracestate, header::baggage, header::x_trace_id, header::x_span_id}) {
      if (detail::is_propagation_header(name, f)) carrier.erase(name);
    }
    detail::write(out, f, [&](std::string_view name, std::string_view value) { carrier.set(name, value); });
  } else {
    // Headers this call owns, in one pass: an entry spelled exactly as prela writes it
    // is updated in place (a reused carrier then costs no allocation); any other
    // spelling, a repeat, and any header the current context has no value for, is
    // removed. What is still missing is added after.
    unsigned written = 0;
    for (auto it = carrier.begin(); it != carrier.end();) {
      bool exact = false;
      const detail::header_kind k = detail::classify(it->first, f, exact);
      if (k == detail::header_kind::none) {
        ++it;
        continue;
      }
      const unsigned bit = 1U << static_cast<unsigned>(k);
      const auto value = detail::value_for(out, f, k);
      if (value && exact && (written & bit) == 0) {
        it->second.assign(value->data(), value->size());
        written |= bit;
        ++it;
      } else {
        it = carrier.erase(it);
      }
    }
    for (int i = 0; i < detail::header_kinds; ++i) {
      const auto k = static_cast<detail::header_kind>(i);
      if ((written & (1U << static_cast<unsigned>(i))) != 0) continue;
      if (const auto value = detail::value_for(out, f, k)) {
        carrier.emplace(typename Carrier::key_type(detail::name_of(k)),
                        typename Carrier::mapped_type(*value));
      }
    }
  }
}

/// Writes the current span's context through a setter: `set(name, value)` is called
/// once per header to write. It cannot remove stale headers: give it a fresh carrier.
template <class Setter>
  requires detail::header_setter<Setter> && (!detail::string_map<Setter>) && (!detail::field_list<Setter>)
void inject(Setter&& set, formats f = formats::all) {
  if constexpr (!instrumented) return;
  detail::outgoing_headers out;
  detail::encode_current(out, f);
  detail::write(out, f, set);
}

/// Parsers behind extract(), exposed for tests, fuzzing and custom carriers.
namespace w3c {

struct traceparent_fields {
  prela::trace_id trace_id;
  prela::span_id parent_id;
  std::uint8_t flags = 0;  ///< bit 0 sampled, bit 1 random (Level 2); others dropped
};
/// One traceparent value; nullopt if invalid (the request then starts a new trace).
std::optional<traceparent_fields> parse_traceparent(std::string_view value) noexcept;

/// The tracestate lines combined, validated and normalized ("k=v,k2=v2", truncated
/// to propagation_limits::tracestate_bytes as the spec says); empty if invalid.
std::string parse_tracestate(const std::string_view* lines, std::size_t count);

/// Baggage entries from the baggage lines, decoded; invalid entries are skipped one by
/// one, entries past the limits dropped, properties dropped. Later duplicates win.
prela::baggage parse_baggage(const std::string_view* lines, std::size_t count);

/// Serializes entries (percent-encoding values), skipping keys that are not HTTP
/// tokens, stopping at the limits.
std::string format_baggage(const prela::baggage& entries);

}  // namespace w3c

}  // namespace prela
