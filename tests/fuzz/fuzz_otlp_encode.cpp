// OTLP encoders: the input describes a batch of spans (names, attributes of every type,
// events, status, ids, times; strings of any bytes and length). The protobuf encoding
// must walk cleanly against the OTLP schema: every field known, every length inside its
// message, every length written in the fewest bytes, every string field UTF-8. The JSON
// encoding must parse, and both must carry the same spans with the same strings.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "prela/exporters/otlp_http.hpp"

namespace {

// The schema as the walker needs it: for each message, what each field number holds.
enum class holds : std::uint8_t { none, varint, fixed64, fixed32, bytes, string, message };
enum message : std::uint8_t {
  request,
  resource_spans,
  resource,
  scope_spans,
  scope,
  span,
  event,
  status,
  key_value,
  any_value,
  array_value,
  message_count
};
struct field {
  holds what = holds::none;
  message inner = request;
};
struct schema {
  field fields[message_count][17];
  schema() {
    const auto msg = [](message m) { return field{holds::message, m}; };
    fields[request][1] = msg(resource_spans);
    fields[resource_spans][1] = msg(resource);
    fields[resource_spans][2] = msg(scope_spans);
    fields[resource][1] = msg(key_value);
    fields[scope_spans][1] = msg(scope);
    fields[scope_spans][2] = msg(span);
    fields[scope][1] = {holds::string};
    fields[scope][2] = {holds::string};
    fields[span][1] = {holds::bytes};
    fields[span][2] = {holds::bytes};
    fields[span][3] = {holds::string};
    fields[span][4] = {holds::bytes};
    fields[span][5] = {holds::string};
    fields[span][6] = {holds::varint};
    fields[span][7] = {holds::fixed64};
    fields[span][8] = {holds::fixed64};
    fields[span][9] = msg(key_value);
    fields[span][10] = {holds::varint};
    fields[span][11] = msg(event);
    fields[span][12] = {holds::varint};
    fields[span][15] = msg(status);
    fields[span][16] = {holds::fixed32};
    fields[event][1] = {holds::fixed64};
    fields[event][2] = {holds::string};
    fields[event][3] = msg(key_value);
    fields[status][2] = {holds::string};
    fields[status][3] = {holds::varint};
    fields[key_value][1] = {holds::string};
    fields[key_value][2] = msg(any_value);
    fields[any_value][1] = {holds::string};
    fields[any_value][2] = {holds::varint};
    fields[any_value][3] = {holds::varint};
    fields[any_value][4] = {holds::fixed64};
    fields[any_value][5] = msg(array_value);
    fields[array_value][1] = msg(any_value);
  }
};
const schema the_schema;

// UTF-8 as RFC 3629 defines it, written here independently of prela's own check.
bool utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

struct walker {
  std::string_view in;
  std::size_t at = 0;
  std::vector<std::string> span_names;
  std::vector<std::string> strings;  // every string value of an AnyValue, in order

  std::uint64_t varint(bool minimal) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      PRELA_FUZZ_CHECK(at < in.size());
      const auto b = static_cast<unsigned char>(in[at++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (minimal) PRELA_FUZZ_CHECK(b != 0 || shift == 0);  // no padding bytes
        return v;
      }
    }
    PRELA_FUZZ_CHECK(!"varint longer than ten bytes");
    return 0;
  }

  void walk(message m, std::size_t end) {
    while (at < end) {
      const std::uint64_t tag = varint(true);
      const std::uint64_t number = tag >> 3;
      const auto wire = static_cast<unsigned>(tag & 7);
      PRELA_FUZZ_CHECK(number > 0 && number < 17);
      const field f = the_schema.fields[m][number];
      switch (f.what) {
        case holds::none:
          PRELA_FUZZ_CHECK(!"a field the schema does not have");
          break;
        case holds::varint:
          PRELA_FUZZ_CHECK(wire == 0);
          varint(false);  // int64: a negative value takes ten bytes
          break;
        case holds::fixed64:
          PRELA_FUZZ_CHECK(wire == 1);
          at += 8;
          break;
        case holds::fixed32:
          PRELA_FUZZ_CHECK(wire == 5);
          at += 4;
          break;
        case holds::bytes:
        case holds::string:
        case holds::message: {
          PRELA_FUZZ_CHECK(wire == 2);
          const std::uint64_t length = varint(true);
          PRELA_FUZZ_CHECK(length <= end - at);
          const std::size_t inner_end = at + length;
          if (f.what == holds::message) {
            walk(f.inner, inner_end);
          } else {
            const std::string_view value = in.substr(at, length);
            if (f.what == holds::string) PRELA_FUZZ_CHECK(utf8(value));
            if (m == span && number == 5) span_names.emplace_back(value);
            if (m == any_value && number == 1) strings.emplace_back(value);
            if (m == span && (number == 1 || number == 2 || number == 4)) {
              PRELA_FUZZ_CHECK(length == (number == 1 ? 16U : 8U));
            }
          }
          at = inner_end;
          break;
        }
      }
      PRELA_FUZZ_CHECK(at <= end);
    }
    PRELA_FUZZ_CHECK(at == end);
  }
};

std::string some_string(FuzzedDataProvider& in) {
  // Mostly short, sometimes long enough for a multi-byte length.
  std::string s = in.ConsumeRandomLengthString(64);
  if (!s.empty() && s[0] == '\x01') s.resize(200 + s.size() * 131, s.back());
  return s;
}

prela::attribute_value some_value(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
      return in.ConsumeBool();
    case 1:
      return in.ConsumeIntegral<std::int64_t>();
    case 2:
      return in.ConsumeFloatingPoint<double>();
    case 3:
      return some_string(in);
    case 4: {
      std::vector<bool> v(in.ConsumeIntegralInRange(0, 4));
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = in.ConsumeBool();
      return v;
    }
    case 5: {
      std::vector<std::int64_t> v(in.ConsumeIntegralInRange(0, 4));
      for (auto& x : v) x = in.ConsumeIntegral<std::int64_t>();
      return v;
    }
    case 6: {
      std::vector<double> v(in.ConsumeIntegralInRange(0, 4));
      for (auto& x : v) x = in.ConsumeFloatingPoint<double>();
      return v;
    }
    default: {
      std::vector<std::string> v(in.ConsumeIntegralInRange(0, 4));
      for (auto& x : v) x = some_string(in);
      return v;
    }
  }
}

prela::attributes some_attributes(FuzzedDataProvider& in, int most) {
  prela::attributes out;
  const int n = in.ConsumeIntegralInRange(0, most);
  for (int i = 0; i < n; ++i) {
    std::string key = some_string(in);
    out.push_back({std::move(key), some_value(in)});
  }
  return out;
}

// The string values of AnyValues in the JSON document, in document order (the order
// the protobuf encoding has them).
void json_strings(const nlohmann::ordered_json& doc, std::vector<std::string>& out) {
  if (doc.is_object()) {
    for (const auto& [key, value] : doc.items()) {
      if (key == "stringValue") {
        out.push_back(value.get<std::string>());
      } else {
        json_strings(value, out);
      }
    }
  } else if (doc.is_array()) {
    for (const auto& e : doc) json_strings(e, out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<prela::span_data> spans(in.ConsumeIntegralInRange(1, 6));
  std::shared_ptr<const prela::resource> current;
  for (auto& s : spans) {
    if (!current || in.ConsumeBool()) {  // a new resource starts a new ResourceSpans
      auto r = std::make_shared<prela::resource>();
      r->attributes = some_attributes(in, 2);
      current = r;
    }
    s.resource = current;
    s.name = some_string(in);
    s.type = static_cast<prela::span_type>(in.ConsumeIntegralInRange(0, 5));
    s.trace_id = prela::trace_id(in.ConsumeIntegral<std::uint64_t>(), in.ConsumeIntegral<std::uint64_t>());
    s.span_id = prela::span_id(in.ConsumeIntegral<std::uint64_t>());
    if (in.ConsumeBool()) s.parent_span_id = prela::span_id(in.ConsumeIntegral<std::uint64_t>());
    s.parent_is_remote = in.ConsumeBool();
    s.status = static_cast<prela::span_status>(in.ConsumeIntegralInRange(0, 2));
    s.status_message = some_string(in);
    s.start_time = std::chrono::nanoseconds(in.ConsumeIntegral<std::int64_t>());
    s.end_time = std::chrono::nanoseconds(in.ConsumeIntegral<std::int64_t>());
    s.attributes = some_attributes(in, 5);
    s.events.resize(in.ConsumeIntegralInRange(0, 2));
    for (auto& e : s.events) {
      e.name = some_string(in);
      e.time = std::chrono::nanoseconds(in.ConsumeIntegral<std::int64_t>());
      e.attributes = some_attributes(in, 2);
    }
    s.dropped_attributes = in.ConsumeIntegral<std::uint32_t>();
    s.dropped_events = in.ConsumeIntegral<std::uint32_t>();
    s.trace_flags = in.ConsumeIntegral<std::uint8_t>();
    s.trace_state = some_string(in);
  }

  std::string proto;
  prela::otlp::encode_protobuf(spans, proto);
  walker w{proto};
  w.walk(request, proto.size());
  PRELA_FUZZ_CHECK(w.span_names.size() == spans.size());  // the name is written even when empty

  std::string text;
  prela::otlp::encode_json(spans, text);
  const auto doc = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  PRELA_FUZZ_CHECK(!doc.is_discarded());
  std::vector<std::string> names;
  std::size_t json_spans = 0;
  for (const auto& rs : doc.at("resourceSpans")) {
    for (const auto& ss : rs.at("scopeSpans")) {
      for (const auto& s : ss.at("spans")) {
        ++json_spans;
        names.push_back(s.value("name", ""));
      }
    }
  }
  PRELA_FUZZ_CHECK(json_spans == spans.size());
  PRELA_FUZZ_CHECK(names == w.span_names);
  std::vector<std::string> values;
  json_strings(doc, values);
  PRELA_FUZZ_CHECK(values == w.strings);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    // Spans keep their order within a resource, and resources take turns only when
    // the input changes resource, so the i-th name is the i-th span's.
    if (utf8(spans[i].name)) PRELA_FUZZ_CHECK(names[i] == spans[i].name);
  }
  return 0;
}
