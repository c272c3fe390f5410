// The OTLP JSON encoding (opentelemetry-proto's JSON mapping): lower-case hex ids,
// integer enums, 64-bit integers and nanosecond times as decimal strings, camelCase
// field names.
#include <variant>

#include "json_writer.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "prela/version.hpp"

namespace prela::otlp {
namespace {

namespace json = detail::json;

void append_any_value(std::string& out, const attribute_value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          out.append(x ? R"({"boolValue":true})" : R"({"boolValue":false})");
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out.append(R"({"intValue":")");
          json::append_int(out, x);
          out.append("\"}");
        } else if constexpr (std::is_same_v<T, double>) {
          out.append(R"({"doubleValue":)");
          json::append_double(out, x, true);
          out.push_back('}');
        } else if constexpr (std::is_same_v<T, std::string>) {
          out.append(R"({"stringValue":)");
          json::append_string(out, x);
          out.push_back('}');
        } else {
          out.append(R"({"arrayValue":{"values":[)");
          bool first = true;
          for (const auto& e : x) {
            if (!first) out.push_back(',');
            first = false;
            append_any_value(out, attribute_value(typename T::value_type(e)));
          }
          out.append("]}}");
        }
      },
      v.variant());
}

void append_key_value(std::string& out, std::string_view key, const attribute_value& value) {
  out.append(R"({"key":)");
  json::append_string(out, key);
  out.append(R"(,"value":)");
  append_any_value(out, value);
  out.push_back('}');
}

void append_string_attribute(std::string& out, std::string_view key, std::string_view value) {
  out.append(R"({"key":)");
  json::append_string(out, key);
  out.append(R"(,"value":{"stringValue":)");
  json::append_string(out, value);
  out.append("}}");
}

void append_attributes(std::string& out, const attributes& attrs) {
  out.push_back('[');
  bool first = true;
  for (const auto& a : attrs) {
    if (!first) out.push_back(',');
    first = false;
    append_key_value(out, a.key, a.value);
  }
  out.push_back(']');
}

void append_hex_field(std::string& out, std::string_view name, const char* hex, std::size_t n) {
  out.push_back('"');
  out.append(name);
  out.append("\":\"");
  out.append(hex, n);
  out.push_back('"');
}

void append_time(std::string& out, std::string_view name, std::chrono::nanoseconds t) {
  out.push_back('"');
  out.append(name);
  out.append("\":\"");
  json::append_int(out, t.count());
  out.push_back('"');
}

// traceId, spanId, parentSpanId (for a child), traceState (when there is one), flags.
void append_ids(std::string& out, const span_data& s) {
  char hex[32];
  s.trace_id.to_hex(hex);
  append_hex_field(out, "traceId", hex, 32);
  out.push_back(',');
  s.span_id.to_hex(hex);
  append_hex_field(out, "spanId", hex, 16);
  if (s.parent_span_id.is_valid()) {
    out.push_back(',');
    s.parent_span_id.to_hex(hex);
    append_hex_field(out, "parentSpanId", hex, 16);
  }
  if (!s.trace_state.empty()) {
    out.append(R"(,"traceState":)");
    json::append_string(out, s.trace_state);
  }
  // Span.flags: the W3C trace flags in bits 0-7; bit 8 says bit 9 is known, bit 9 that
  // the parent is remote.
  out.append(R"(,"flags":)");
  json::append_uint(out,
                    static_cast<std::uint64_t>(s.trace_flags) | 0x100U | (s.parent_is_remote ? 0x200U : 0U));
}

// The span's attributes after prela's own (the span type, and the GenAI operation for
// the types that have one), and how many were dropped.
void append_span_attributes(std::string& out, const span_data& s) {
  out.append(R"(,"attributes":[)");
  append_string_attribute(out, "prela.span_type", to_string(s.type));
  if (const auto op = gen_ai_operation(s.type); !op.empty()) {
    out.push_back(',');
    append_string_attribute(out, "gen_ai.operation.name", op);
  }
  for (const auto& a : s.attributes) {
    out.push_back(',');
    append_key_value(out, a.key, a.value);
  }
  out.push_back(']');
  if (s.dropped_attributes != 0) {
    out.append(R"(,"droppedAttributesCount":)");
    json::append_uint(out, s.dropped_attributes);
  }
}

void append_events(std::string& out, const span_data& s) {
  if (!s.events.empty()) {
    out.append(R"(,"events":[)");
    bool first = true;
    for (const auto& e : s.events) {
      if (!first) out.push_back(',');
      first = false;
      out.push_back('{');
      append_time(out, "timeUnixNano", e.time);
      out.append(R"(,"name":)");
      json::append_string(out, e.name);
      if (!e.attributes.empty()) {
        out.append(R"(,"attributes":)");
        append_attributes(out, e.attributes);
      }
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (s.dropped_events != 0) {
    out.append(R"(,"droppedEventsCount":)");
    json::append_uint(out, s.dropped_events);
  }
}

// Status codes: UNSET 0, OK 1, ERROR 2 (prela's enum has the same order).
void append_status(std::string& out, const span_data& s) {
  out.append(R"(,"status":{)");
  if (s.status != span_status::unset) {
    out.append(R"("code":)");
    json::append_int(out, s.status == span_status::ok ? 1 : 2);
    if (!s.status_message.empty()) {
      out.append(R"(,"message":)");
      json::append_string(out, s.status_message);
    }
  }
  out.push_back('}');
}

void append_span(std::string& out, const span_data& s) {
  out.push_back('{');
  append_ids(out, s);
  out.append(R"(,"name":)");
  json::append_string(out, s.name);
  out.append(R"(,"kind":)");
  json::append_int(out, static_cast<int>(kind_of(s)));
  out.push_back(',');
  append_time(out, "startTimeUnixNano", s.start_time);
  out.push_back(',');
  append_time(out, "endTimeUnixNano", s.end_time);
  append_span_attributes(out, s);
  append_events(out, s);
  append_status(out, s);
  out.push_back('}');
}

}  // namespace

span_kind kind_of(const span_data& span) noexcept {
  if (span.parent_is_remote) return span_kind::server;
  switch (span.type) {
    case span_type::llm:
    case span_type::retrieval:
    case span_type::embedding:
      return span_kind::client;
    default:
      return span_kind::internal;
  }
}

// gen_ai.operation.name as the OpenTelemetry GenAI semantic conventions define it
// (semantic-conventions v1.41, where GenAI was last part of the main repository; it now
// continues in open-telemetry/semantic-conventions-genai): llm "chat", retrieval
// "retrieval", embedding "embeddings", tool "execute_tool", agent "invoke_agent".
std::string_view gen_ai_operation(span_type type) noexcept {
  switch (type) {
    case span_type::llm:
      return "chat";
    case span_type::tool:
      return "execute_tool";
    case span_type::agent:
      return "invoke_agent";
    case span_type::embedding:
      return "embeddings";
    case span_type::retrieval:
      return "retrieval";
    default:
      return {};
  }
}

void encode_json(std::span<const span_data> spans, std::string& out) {
  out.append(R"({"resourceSpans":[)");
  // Spans arrive grouped by tracer configuration, so runs of one resource are long:
  // a new resourceSpans entry starts whenever the resource changes.
  const resource* current = nullptr;
  bool first_resource = true;
  bool first_span = true;
  for (const auto& s : spans) {
    const resource* r = s.resource.get();
    if (first_resource || r != current) {
      if (!first_resource) out.append("]}]},");
      first_resource = false;
      current = r;
      out.append(R"({"resource":{"attributes":)");
      if (r != nullptr) {
        append_attributes(out, r->attributes);
      } else {
        out.append("[]");
      }
      out.append(R"(},"scopeSpans":[{"scope":{"name":"prela","version":)");
      json::append_string(out, prela::version);
      out.append(R"(},"spans":[)");
      first_span = true;
    }
    if (!first_span) out.push_back(',');
    first_span = false;
    append_span(out, s);
  }
  if (!first_resource) out.append("]}]}");
  out.append("]}");
}

}  // namespace prela::otlp
