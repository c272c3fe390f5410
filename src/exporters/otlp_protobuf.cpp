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
#include <cstring>
#include <variant>

#include "json_writer.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "prela/version.hpp"
#include "protobuf_writer.hpp"

namespace prela::detail::pb {

void writer::put_unicode(std::uint32_t field, std::string_view v) {
  const std::size_t body = begin(field);
  std::size_t i = 0;
  while (i < v.size()) {
    const std::size_t n = static_cast<unsigned char>(v[i]) < 0x80 ? 1 : utf8_sequence(v, i);
    reserve(4);
    if (n == 0) {
      std::memcpy(cur_, "\xEF\xBF\xBD", 3);
      cur_ += 3;
      ++i;
    } else {
      std::memcpy(cur_, v.data() + i, n);
      cur_ += n;
      i += n;
    }
  }
  end(body);
}

void writer::long_length(std::size_t body, std::size_t length, std::size_t room) {
  char buf[10];
  const std::size_t n = static_cast<std::size_t>(varint_to(buf, length) - buf);
  if (n > room) reserve(n - room);
  const std::size_t start = body - room;  // where the length goes
  std::memmove(base_ + start + n, base_ + body, length);
  std::memcpy(base_ + start, buf, n);
  cur_ = base_ + start + n + length;
}

void writer::grow(std::size_t n) {
  const std::size_t in_use = used();
  out_.resize(std::max(out_.size() * 2, in_use + n + 4096));
  rebase(in_use);
}

}  // namespace prela::detail::pb

namespace prela::otlp {
namespace {

namespace pb = detail::pb;

template <class T>
void put_scalar(pb::writer& out, const T& x) {
  if constexpr (std::is_same_v<T, bool>) {
    out.put_uint(2, x ? 1 : 0);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    out.put_int(3, x);
  } else if constexpr (std::is_same_v<T, double>) {
    out.put_double(4, x);
  } else {
    out.put_string(1, x);
  }
}

// AnyValue as field `field` of the enclosing message. A zero scalar is still written:
// the oneof says which type the value has.
void put_any_value(pb::writer& out, std::uint32_t field, const attribute_value& v) {
  const std::size_t value = out.begin(field);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, double> ||
                      std::is_same_v<T, std::string>) {
          put_scalar(out, x);
        } else {
          const std::size_t array = out.begin(5);
          for (const auto& e : x) {
            const std::size_t element = out.begin(1);
            put_scalar(out, static_cast<typename T::value_type>(e));
            out.end(element);
          }
          out.end(array);
        }
      },
      v.variant());
  out.end(value);
}

void put_key_value(pb::writer& out, std::uint32_t field, std::string_view key, const attribute_value& value) {
  const std::size_t kv = out.begin(field);
  out.put_string(1, key);
  put_any_value(out, 2, value);
  out.end(kv);
}

void put_string_attribute(pb::writer& out, std::uint32_t field, std::string_view key, std::string_view value) {
  const std::size_t kv = out.begin(field);
  out.put_string(1, key);
  const std::size_t any = out.begin(2);
  out.put_string(1, value);
  out.end(any);
  out.end(kv);
}

// Ids in network order, as in traceparent.
void big_endian(std::uint64_t v, char* out) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}

std::uint64_t unix_nanos(std::chrono::nanoseconds t) { return static_cast<std::uint64_t>(t.count()); }

void put_span(pb::writer& out, const span_data& s) {
  const std::size_t span = out.begin_wide(2);
  char raw[16];
  big_endian(s.trace_id.high(), raw);
  big_endian(s.trace_id.low(), raw + 8);
  out.put_bytes(1, std::string_view(raw, 16));
  big_endian(s.span_id.value(), raw);
  out.put_bytes(2, std::string_view(raw, 8));
  if (!s.trace_state.empty()) out.put_string(3, s.trace_state);
  if (s.parent_span_id.is_valid()) {
    big_endian(s.parent_span_id.value(), raw);
    out.put_bytes(4, std::string_view(raw, 8));
  }
  out.put_string(5, s.name);
  out.put_uint(6, static_cast<std::uint64_t>(kind_of(s)));
  out.put_fixed64(7, unix_nanos(s.start_time));
  out.put_fixed64(8, unix_nanos(s.end_time));
  put_string_attribute(out, 9, "prela.span_type", to_string(s.type));
  if (const auto op = gen_ai_operation(s.type); !op.empty()) put_string_attribute(out, 9, "gen_ai.operation.name", op);
  for (const auto& a : s.attributes) put_key_value(out, 9, a.key, a.value);
  if (s.dropped_attributes != 0) out.put_uint(10, s.dropped_attributes);
  for (const auto& e : s.events) {
    const std::size_t event = out.begin(11);
    out.put_fixed64(1, unix_nanos(e.time));
    out.put_string(2, e.name);
    for (const auto& a : e.attributes) put_key_value(out, 3, a.key, a.value);
    out.end(event);
  }
  if (s.dropped_events != 0) out.put_uint(12, s.dropped_events);
  // Status codes: UNSET 0, OK 1, ERROR 2 (prela's enum has the same order).
  const std::size_t status = out.begin(15);
  if (s.status != span_status::unset) {
    if (!s.status_message.empty()) out.put_string(2, s.status_message);
    out.put_uint(3, s.status == span_status::ok ? 1 : 2);
  }
  out.end(status);
  // The W3C trace flags in bits 0-7; bit 8 says bit 9 is known, bit 9 that the parent
  // is remote (as in the JSON encoding).
  out.put_fixed32(16, static_cast<std::uint32_t>(s.trace_flags) | 0x100U | (s.parent_is_remote ? 0x200U : 0U));
  out.end_wide(span);
}

}  // namespace

void encode_protobuf(std::span<const span_data> spans, std::string& buffer) {
  pb::writer out(buffer);
  // Spans arrive grouped by tracer configuration: a new ResourceSpans starts whenever
  // the resource changes.
  std::size_t i = 0;
  while (i < spans.size()) {
    const resource* r = spans[i].resource.get();
    const std::size_t resource_spans = out.begin(1);
    const std::size_t resource = out.begin(1);
    if (r != nullptr) {
      for (const auto& a : r->attributes) put_key_value(out, 1, a.key, a.value);
    }
    out.end(resource);
    const std::size_t scope_spans = out.begin(2);
    const std::size_t scope = out.begin(1);
    out.put_string(1, "prela");
    out.put_string(2, prela::version);
    out.end(scope);
    for (; i < spans.size() && spans[i].resource.get() == r; ++i) put_span(out, spans[i]);
    out.end(scope_spans);
    out.end(resource_spans);
  }
}

}  // namespace prela::otlp
