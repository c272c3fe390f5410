// The OTLP protobuf encoding of ExportTraceServiceRequest (opentelemetry-proto,
// collector/trace/v1 and trace/v1), written by hand for this one schema: the same model
// as the JSON encoder (otlp_json.cpp), field for field. Field numbers, in order:
//   ExportTraceServiceRequest  resource_spans 1
//   ResourceSpans              resource 1, scope_spans 2
//   Resource                   attributes 1
//   ScopeSpans                 scope 1, spans 2
//   InstrumentationScope       name 1, version 2
//   Span                       trace_id 1, span_id 2, trace_state 3, parent_span_id 4,
//                              name 5, kind 6, start_time_unix_nano 7 (fixed64),
//                              end_time_unix_nano 8 (fixed64), attributes 9,
//                              dropped_attributes_count 10, events 11,
//                              dropped_events_count 12, status 15, flags 16 (fixed32)
//   Span.Event                 time_unix_nano 1 (fixed64), name 2, attributes 3
//   Status                     message 2, code 3
//   KeyValue                   key 1, value 2
//   AnyValue                   string_value 1, bool_value 2, int_value 3,
//                              double_value 4 (fixed64), array_value 5
//   ArrayValue                 values 1
//   ExportTraceServiceResponse partial_success 1
//   ExportTracePartialSuccess  rejected_spans 1 (int64), error_message 2
// Fields are written in field-number order, and proto3 defaults (zero, empty) omitted.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <variant>

#include "json_writer.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "prela/version.hpp"
#include "protobuf_writer.hpp"

namespace prela::detail::pb {

char* unicode(char* p, std::string_view v) noexcept {
  std::size_t i = 0;
  while (i < v.size()) {
    const std::size_t n = static_cast<unsigned char>(v[i]) < 0x80 ? 1 : utf8_sequence(v, i);
    if (n == 0) {
      std::memcpy(p, "\xEF\xBF\xBD", 3);
      p += 3;
      ++i;
    } else {
      std::memcpy(p, v.data() + i, n);
      p += n;
      i += n;
    }
  }
  return p;
}

char* long_length(char* body, char* end, std::size_t room) noexcept {
  const auto length = static_cast<std::size_t>(end - body);
  char buf[varint_max];
  const auto n = static_cast<std::size_t>(varint(buf, length) - buf);
  char* start = body - room;  // where the length goes
  std::memmove(start + n, body, length);
  std::memcpy(start, buf, n);
  return start + n + length;
}

void buffer::grow(std::size_t n) { out_.resize(std::max(out_.size() * 2, used_ + n + 4096)); }

void buffer::overrun() noexcept {
  std::fputs("prela: internal error: the OTLP protobuf encoder wrote past its bound\n", stderr);
  std::abort();
}

}  // namespace prela::detail::pb

namespace prela::otlp {
namespace {

namespace pb = detail::pb;

// ---- Bounds ----------------------------------------------------------------------------

std::size_t scalar_value_max(const std::string& v) noexcept { return pb::string_max(v.size()); }
template <class T>
std::size_t scalar_value_max(const T&) noexcept {
  return pb::scalar_max;
}

std::size_t any_value_max(const attribute_value& v) noexcept {
  return std::visit(
      [](const auto& x) -> std::size_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::size_t n = pb::message_max;
          for (const auto& e : x) n += pb::message_max + pb::string_max(e.size());
          return n;
        } else if constexpr (std::is_same_v<T, std::vector<bool>> ||
                             std::is_same_v<T, std::vector<std::int64_t>> ||
                             std::is_same_v<T, std::vector<double>>) {
          return pb::message_max + x.size() * (pb::message_max + pb::scalar_max);
        } else {
          return scalar_value_max(x);
        }
      },
      v.variant());
}

std::size_t key_value_max(std::string_view key, const attribute_value& value) noexcept {
  return 2 * pb::message_max + pb::string_max(key.size()) + any_value_max(value);
}

std::size_t attributes_max(const std::vector<attribute>& attributes) noexcept {
  std::size_t n = 0;
  for (const auto& a : attributes) n += key_value_max(a.key, a.value);
  return n;
}

std::size_t string_attribute_max(std::string_view key, std::string_view value) noexcept {
  return 2 * pb::message_max + pb::string_max(key.size()) + pb::string_max(value.size());
}

std::size_t span_max(const span_data& s) noexcept {
  std::size_t n = pb::message_max                             // the span
                  + pb::bytes_max(16) + 2 * pb::bytes_max(8)  // ids
                  + pb::string_max(s.trace_state.size()) + pb::string_max(s.name.size()) +
                  3 * pb::scalar_max  // kind, times
                  + string_attribute_max("prela.span_type", to_string(s.type)) +
                  string_attribute_max("gen_ai.operation.name", gen_ai_operation(s.type)) +
                  attributes_max(s.attributes) + 2 * pb::scalar_max  // dropped counts
                  + pb::message_max + pb::string_max(s.status_message.size()) + pb::scalar_max  // status
                  + pb::scalar_max;                                                             // flags
  for (const auto& e : s.events) {
    n += pb::message_max + pb::scalar_max + pb::string_max(e.name.size()) + attributes_max(e.attributes);
  }
  return n;
}

// ---- Fields ----------------------------------------------------------------------------

template <class T>
char* put_scalar(char* p, const T& x) noexcept {
  if constexpr (std::is_same_v<T, bool>) {
    return pb::put_uint<2>(p, x ? 1 : 0);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return pb::put_int<3>(p, x);
  } else if constexpr (std::is_same_v<T, double>) {
    return pb::put_double<4>(p, x);
  } else {
    return pb::put_string<1>(p, x);
  }
}

// AnyValue as field `Field` of the enclosing message. A zero scalar is still written:
// the oneof says which type the value has.
template <std::uint32_t Field>
char* put_any_value(char* p, const attribute_value& v) noexcept {
  char* value = pb::begin<Field>(p);
  p = std::visit(
      [value](const auto& x) noexcept {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> ||
                      std::is_same_v<T, double> || std::is_same_v<T, std::string>) {
          return put_scalar(value, x);
        } else {
          char* array = pb::begin<5>(value);
          char* q = array;
          for (const auto& e : x) {
            char* element = pb::begin<1>(q);
            q = pb::end(element, put_scalar(element, static_cast<typename T::value_type>(e)));
          }
          return pb::end(array, q);
        }
      },
      v.variant());
  return pb::end(value, p);
}

template <std::uint32_t Field>
char* put_key_value(char* p, std::string_view key, const attribute_value& value) noexcept {
  char* kv = pb::begin<Field>(p);
  return pb::end(kv, put_any_value<2>(pb::put_string<1>(kv, key), value));
}

template <std::uint32_t Field>
char* put_attributes(char* p, const std::vector<attribute>& attributes) noexcept {
  for (const auto& a : attributes) p = put_key_value<Field>(p, a.key, a.value);
  return p;
}

char* put_string_attribute(char* p, std::string_view key, std::string_view value) noexcept {
  char* kv = pb::begin<9>(p);
  char* any = pb::begin<2>(pb::put_string<1>(kv, key));
  return pb::end(kv, pb::end(any, pb::put_string<1>(any, value)));
}

// Ids in network order, as in traceparent.
char* big_endian(char* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
  } else {
    std::memcpy(p, &v, 8);
  }
  return p + 8;
}

template <std::uint32_t Field>
char* put_span_id(char* p, span_id id) noexcept {
  p = pb::tag<Field, pb::wire::length>(p);
  *p++ = 8;
  return big_endian(p, id.value());
}

std::uint64_t unix_nanos(std::chrono::nanoseconds t) noexcept {
  return static_cast<std::uint64_t>(t.count());
}

// Writes one span; the caller made span_max(s) bytes of room at p.
char* put_span(char* p, const span_data& s) noexcept {
  char* span = pb::begin_wide<2>(p);
  p = pb::tag<1, pb::wire::length>(span);
  *p++ = 16;
  p = big_endian(big_endian(p, s.trace_id.high()), s.trace_id.low());
  p = put_span_id<2>(p, s.span_id);
  if (!s.trace_state.empty()) p = pb::put_string<3>(p, s.trace_state);
  if (s.parent_span_id.is_valid()) p = put_span_id<4>(p, s.parent_span_id);
  p = pb::put_string<5>(p, s.name);
  p = pb::put_uint<6>(p, static_cast<std::uint64_t>(kind_of(s)));
  p = pb::put_fixed64<7>(p, unix_nanos(s.start_time));
  p = pb::put_fixed64<8>(p, unix_nanos(s.end_time));
  p = put_string_attribute(p, "prela.span_type", to_string(s.type));
  if (const auto op = gen_ai_operation(s.type); !op.empty())
    p = put_string_attribute(p, "gen_ai.operation.name", op);
  p = put_attributes<9>(p, s.attributes);
  if (s.dropped_attributes != 0) p = pb::put_uint<10>(p, s.dropped_attributes);
  for (const auto& e : s.events) {
    char* event = pb::begin<11>(p);
    p = pb::put_string<2>(pb::put_fixed64<1>(event, unix_nanos(e.time)), e.name);
    p = pb::end(event, put_attributes<3>(p, e.attributes));
  }
  if (s.dropped_events != 0) p = pb::put_uint<12>(p, s.dropped_events);
  // Status codes: UNSET 0, OK 1, ERROR 2 (prela's enum has the same order).
  char* status = pb::begin<15>(p);
  p = status;
  if (s.status != span_status::unset) {
    if (!s.status_message.empty()) p = pb::put_string<2>(p, s.status_message);
    p = pb::put_uint<3>(p, s.status == span_status::ok ? 1 : 2);
  }
  p = pb::end(status, p);
  // The W3C trace flags in bits 0-7; bit 8 says bit 9 is known, bit 9 that the parent
  // is remote (as in the JSON encoding).
  p = pb::put_fixed32<16>(
      p, static_cast<std::uint32_t>(s.trace_flags) | 0x100U | (s.parent_is_remote ? 0x200U : 0U));
  return pb::end_wide(span, p);
}

// Ends the message whose body starts at `body`, an offset into the buffer.
void end_message(pb::buffer& out, std::size_t body) {
  char* p = out.room(pb::varint_max);
  out.commit(pb::end(out.at(body), p));
}

}  // namespace

void encode_protobuf(std::span<const span_data> spans, std::string& buffer) {
  pb::buffer out(buffer);
  // Spans arrive grouped by tracer configuration: a new ResourceSpans starts whenever
  // the resource changes.
  std::size_t i = 0;
  while (i < spans.size()) {
    const resource* r = spans[i].resource.get();
    const std::size_t head = 4 * pb::message_max + pb::string_max(5) +
                             pb::string_max(std::string_view(prela::version).size()) +
                             (r != nullptr ? attributes_max(r->attributes) : 0);
    char* p = out.room(head);
    char* resource_spans = pb::begin<1>(p);
    char* resource = pb::begin<1>(resource_spans);
    p = resource;
    if (r != nullptr) p = put_attributes<1>(p, r->attributes);
    p = pb::end(resource, p);
    char* scope_spans = pb::begin<2>(p);
    char* scope = pb::begin<1>(scope_spans);
    p = pb::end(scope, pb::put_string<2>(pb::put_string<1>(scope, "prela"), prela::version));
    const std::size_t resource_spans_body = out.offset(resource_spans);
    const std::size_t scope_spans_body = out.offset(scope_spans);
    out.commit(p);
    for (; i < spans.size() && spans[i].resource.get() == r; ++i) {
      p = out.room(span_max(spans[i]));
      out.commit(put_span(p, spans[i]));
    }
    end_message(out, scope_spans_body);
    end_message(out, resource_spans_body);
  }
}

}  // namespace prela::otlp
