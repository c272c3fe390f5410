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

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "prela/config.hpp"
#include "prela/detail/header_codec.hpp"
#include "prela/propagation_formats.hpp"
#include "prela/remote_context.hpp"

namespace prela {

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
      in.add_if_known(std::string_view(name.data(), name.size()),
                      std::string_view(value.data(), value.size()));
    }
  } else {
    for (const auto& [name, value] : carrier) in.add_if_known(name, value);
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
        detail::assign_value(it->second, *value);
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
