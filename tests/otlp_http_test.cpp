// The OTLP/HTTP exporter against a loopback receiver: every field of what arrives, and
// what happens when the collector is slow, failing, unreachable or silent.
#define BOOST_TEST_MODULE otlp_http
#include <boost/test/unit_test.hpp>

#include <unistd.h>
#include <cstdlib>
#include <limits>
#include <map>
#include <stdexcept>

#include "otlp_receiver.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "test_support.hpp"

using namespace prela;
using json = nlohmann::json;
using prela::testing::otlp_receiver;
using prela::testing::traced;
using namespace std::chrono_literals;

namespace {

otlp_http_options fast_options(const otlp_receiver& r) {
  otlp_http_options o;
  o.endpoint = r.endpoint();
  o.timeout = 5s;
  o.initial_backoff = 20ms;
  o.max_backoff = 100ms;
  return o;
}

std::vector<span_data> sample_spans(std::size_t n) {
  std::vector<span_data> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].name = "span " + std::to_string(i);
    out[i].trace_id = trace_id::generate();
    out[i].span_id = span_id::generate();
    out[i].start_time = std::chrono::nanoseconds(1'700'000'000'000'000'000LL + static_cast<std::int64_t>(i));
    out[i].end_time = out[i].start_time + 1ms;
  }
  return out;
}

// A loopback port nothing listens on (it was bound, then released).
unsigned short unused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
  return a.local_endpoint().port();
}

const json* json_attribute(const json& list, std::string_view key) {
  for (const auto& kv : list) {
    if (kv.at("key") == key) return &kv.at("value");
  }
  return nullptr;
}

// What an attribute value must look like in OTLP JSON.
json expected_any_value(const attribute_value& v) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return {{"boolValue", x}};
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return {{"intValue", std::to_string(x)}};  // int64 as a decimal string
        } else if constexpr (std::is_same_v<T, double>) {
          return {{"doubleValue", x}};
        } else if constexpr (std::is_same_v<T, std::string>) {
          return {{"stringValue", x}};
        } else {
          json values = json::array();
          for (const auto& e : x)
            values.push_back(expected_any_value(attribute_value(typename T::value_type(e))));
          return {{"arrayValue", {{"values", values}}}};
        }
      },
      v.variant());
}

void check_span(const json& j, const span_data& s) {
  BOOST_TEST_CONTEXT(s.name) {
    BOOST_TEST(j.at("traceId") == s.trace_id.to_hex());
    BOOST_TEST(j.at("spanId") == s.span_id.to_hex());
    if (s.parent_span_id.is_valid()) {
      BOOST_TEST(j.at("parentSpanId") == s.parent_span_id.to_hex());
    } else {
      BOOST_TEST(!j.contains("parentSpanId"));
    }
    BOOST_TEST(j.at("name") == s.name);
    BOOST_TEST(j.at("kind") == static_cast<int>(otlp::kind_of(s)));
    BOOST_TEST(j.at("startTimeUnixNano") == std::to_string(s.start_time.count()));
    BOOST_TEST(j.at("endTimeUnixNano") == std::to_string(s.end_time.count()));
    BOOST_TEST(j.at("flags") == (s.trace_flags | 0x100 | (s.parent_is_remote ? 0x200 : 0)));
    if (!s.trace_state.empty()) BOOST_TEST(j.at("traceState") == s.trace_state);
    const json& attrs = j.at("attributes");
    BOOST_TEST(*json_attribute(attrs, "prela.span_type") ==
               json({{"stringValue", std::string(to_string(s.type))}}));
    for (const auto& a : s.attributes) {
      BOOST_TEST_CONTEXT(a.key) {
        const json* v = json_attribute(attrs, a.key);
        BOOST_REQUIRE(v != nullptr);
        BOOST_TEST(*v == expected_any_value(a.value));
      }
    }
    BOOST_TEST(attrs.size() == s.attributes.size() + 1 + (otlp::gen_ai_operation(s.type).empty() ? 0 : 1));
    BOOST_TEST(j.value("events", json::array()).size() == s.events.size());
    for (std::size_t i = 0; i < s.events.size(); ++i) {
      const json& e = j.at("events").at(i);
      BOOST_TEST(e.at("name") == s.events[i].name);
      BOOST_TEST(e.at("timeUnixNano") == std::to_string(s.events[i].time.count()));
      for (const auto& a : s.events[i].attributes)
        BOOST_TEST(*json_attribute(e.at("attributes"), a.key) == expected_any_value(a.value));
    }
    const json& status = j.at("status");
    BOOST_TEST(status.value("code", 0) == static_cast<int>(s.status));  // UNSET 0, OK 1, ERROR 2
    BOOST_TEST(status.value("message", std::string()) == s.status_message);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(endpoints_are_validated_at_construction) {
  for (const char* bad : {"collector:4318", "http://", "http://host:0/", "http://host:99999/",
                          "http://host:12ab/", "http://[::1/v1", "ftp://x"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_CHECK_THROW(otlp_http_exporter({.endpoint = bad}), std::invalid_argument);
    }
  }
  BOOST_CHECK_NO_THROW(otlp_http_exporter({.endpoint = "https://collector:4318/v1/traces"}));
  BOOST_CHECK_THROW(otlp_http_exporter({.timeout = 0ms}), std::invalid_argument);
  BOOST_CHECK_THROW(otlp_http_exporter({.headers = {{"bad name", "x"}}}), std::invalid_argument);
  BOOST_CHECK_THROW(otlp_http_exporter({.headers = {{"x-key", "a\r\nInjected: 1"}}}), std::invalid_argument);
  BOOST_CHECK_NO_THROW(otlp_http_exporter({.endpoint = "http://[::1]:4318/v1/traces"}));
  BOOST_CHECK_NO_THROW(otlp_http_exporter({.endpoint = "http://collector"}));
}

// Sends one set of spans with the given encoding and compression and checks every field
// of what arrives (protobuf decoded by protoc, gzip inflated by zlib).
void check_every_field_arrives(otlp_protocol protocol, otlp_compression compression) {
  otlp_receiver receiver;
  auto options = fast_options(receiver);
  options.protocol = protocol;
  options.compression = compression;
  options.headers = {{"x-api-key", "secret"}, {"X-Tenant", "acme"}};
  auto otlp = std::make_shared<otlp_http_exporter>(options);
  traced t({.service_name = "otlp-test",
            .exporters = {otlp},
            .resource_attributes = {{"deployment.environment", "test"}}});
  {
    std::map<std::string, std::string> headers = {
        {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, {"tracestate", "rojo=1"}};
    auto server = get_tracer().span("handle request", span_type::agent, extract(headers),
                                    {{"str", "v\"q\\\n"},
                                     {"int", -42},
                                     {"big", std::int64_t{9007199254740993}},
                                     {"dbl", 2.5},
                                     {"flag", true},
                                     {"strs", {"a", "b"}},
                                     {"ints", {1, 2}},
                                     {"utf8", "caf\xc3\xa9"}});
    server->add_event("received", {{"bytes", 1024}});
    server->set_status(span_status::ok);
    { auto llm = get_tracer().span("chat", span_type::llm, {{"gen_ai.request.model", "m"}}); }
    {
      auto tool = get_tracer().span("search", span_type::tool);
      tool->set_status(span_status::error, "backend down");
    }
    { auto r = get_tracer().span("lookup", span_type::retrieval); }
    { auto e = get_tracer().span("embed", span_type::embedding); }
    { auto c = get_tracer().span("misc", span_type::custom); }
  }
  const auto spans = t.spans();  // flushes every exporter
  BOOST_REQUIRE(spans.size() == 6U);
  const auto arrived = receiver.accepted_spans();
  BOOST_REQUIRE(arrived.size() == 6U);
  for (const auto& s : spans) {
    auto it = std::find_if(arrived.begin(), arrived.end(),
                           [&](const json& j) { return j.at("spanId") == s.span_id.to_hex(); });
    BOOST_REQUIRE(it != arrived.end());
    check_span(*it, s);
  }
  // Kinds and GenAI operation names.
  auto by_name = [&](std::string_view n) {
    return *std::find_if(arrived.begin(), arrived.end(), [&](const json& j) { return j.at("name") == n; });
  };
  BOOST_TEST(by_name("handle request").at("kind") == 2);  // SERVER: continues a remote parent
  BOOST_TEST(by_name("chat").at("kind") == 3);            // CLIENT
  BOOST_TEST(by_name("lookup").at("kind") == 3);
  BOOST_TEST(by_name("embed").at("kind") == 3);
  BOOST_TEST(by_name("search").at("kind") == 1);  // INTERNAL
  BOOST_TEST(by_name("misc").at("kind") == 1);
  BOOST_TEST(json_attribute(by_name("chat").at("attributes"), "gen_ai.operation.name")->at("stringValue") ==
             "chat");
  BOOST_TEST(json_attribute(by_name("search").at("attributes"), "gen_ai.operation.name")->at("stringValue") ==
             "execute_tool");
  BOOST_TEST(json_attribute(by_name("handle request").at("attributes"), "gen_ai.operation.name")
                 ->at("stringValue") == "invoke_agent");
  BOOST_TEST(json_attribute(by_name("embed").at("attributes"), "gen_ai.operation.name")->at("stringValue") ==
             "embeddings");
  BOOST_TEST(json_attribute(by_name("lookup").at("attributes"), "gen_ai.operation.name")->at("stringValue") ==
             "retrieval");
  BOOST_TEST(json_attribute(by_name("misc").at("attributes"), "gen_ai.operation.name") == nullptr);

  // The request: path, content type, configured headers; resource and scope.
  const auto requests = receiver.requests();
  BOOST_REQUIRE(!requests.empty());
  for (std::size_t n = 0; n < requests.size(); ++n) {
    const auto& r = requests[n];
    BOOST_TEST(r.target == "/v1/traces");
    BOOST_TEST(r.content_type ==
               (protocol == otlp_protocol::http_json ? "application/json" : "application/x-protobuf"));
    if (compression == otlp_compression::gzip) {
      BOOST_TEST(r.headers.at("content-encoding") == "gzip");
      BOOST_TEST(r.raw_body.size() < r.body.size());
    } else {
      BOOST_TEST(r.headers.count("content-encoding") == 0U);
    }
    BOOST_TEST(r.headers.at("x-api-key") == "secret");
    BOOST_TEST(r.headers.at("x-tenant") == "acme");
    const auto doc = receiver.document(n);
    const json& rs = doc.at("resourceSpans").at(0);
    const json& res = rs.at("resource").at("attributes");
    BOOST_TEST(json_attribute(res, "service.name")->at("stringValue") == "otlp-test");
    BOOST_TEST(json_attribute(res, "telemetry.sdk.name")->at("stringValue") == "prela");
    BOOST_TEST(json_attribute(res, "telemetry.sdk.language")->at("stringValue") == "cpp");
    BOOST_TEST(json_attribute(res, "telemetry.sdk.version")->at("stringValue") == prela::version);
    BOOST_TEST(json_attribute(res, "deployment.environment")->at("stringValue") == "test");
    BOOST_TEST(rs.at("scopeSpans").at(0).at("scope").at("name") == "prela");
    BOOST_TEST(rs.at("scopeSpans").at(0).at("scope").at("version") == prela::version);
  }
  BOOST_TEST(otlp->stats().exported_spans == 6U);
  BOOST_TEST(otlp->stats().failed_batches == 0U);
}

BOOST_AUTO_TEST_CASE(healthy_collector_receives_every_field_in_protobuf) {
  check_every_field_arrives(otlp_protocol::http_protobuf, otlp_compression::none);
}

BOOST_AUTO_TEST_CASE(healthy_collector_receives_every_field_in_json) {
  check_every_field_arrives(otlp_protocol::http_json, otlp_compression::none);
}

BOOST_AUTO_TEST_CASE(healthy_collector_receives_every_field_gzip_compressed) {
  check_every_field_arrives(otlp_protocol::http_protobuf, otlp_compression::gzip);
  check_every_field_arrives(otlp_protocol::http_json, otlp_compression::gzip);
}

// One model, two encodings: protoc's decoding of the protobuf body, mapped to OTLP JSON,
// equals the JSON encoder's document for the same spans, field for field.
void check_encodings_agree(const std::vector<span_data>& spans) {
  std::string json_body;
  otlp::encode_json(spans, json_body);
  std::string proto_body;
  otlp::encode_protobuf(spans, proto_body);
  json from_json = json::parse(json_body);
  // proto3 does not tell an empty string from an absent one (but for a oneof member).
  const auto drop_empty_strings = [](json& doc, const auto& self) -> void {
    if (doc.is_array()) {
      for (auto& e : doc) self(e, self);
    } else if (doc.is_object()) {
      for (auto it = doc.begin(); it != doc.end();) {
        if (it.value() == "" && it.key() != "stringValue") {
          it = doc.erase(it);
        } else {
          self(it.value(), self);
          ++it;
        }
      }
    }
  };
  drop_empty_strings(from_json, drop_empty_strings);
  const json from_protobuf = prela::testing::decode_otlp_protobuf(proto_body);
  if (from_json != from_protobuf) {
    BOOST_TEST_MESSAGE("json:     " << from_json.dump().substr(0, 4000));
    BOOST_TEST_MESSAGE("protobuf: " << from_protobuf.dump().substr(0, 4000));
  }
  BOOST_TEST((from_json == from_protobuf));
  BOOST_TEST(proto_body.size() < json_body.size());
}

BOOST_AUTO_TEST_CASE(protobuf_and_json_encodings_say_the_same) {
  auto spans = sample_spans(3);
  auto res_a = std::make_shared<resource>();
  res_a->attributes = {{"service.name", "a"}, {"host.cores", 8}};
  auto res_b = std::make_shared<resource>();
  res_b->attributes = {{"service.name", "b"}};
  spans[0].resource = res_a;
  spans[1].resource = res_a;
  spans[2].resource = res_b;  // a second ResourceSpans
  spans[0].type = span_type::llm;
  spans[0].parent_span_id = span_id::generate();
  spans[0].parent_is_remote = true;
  spans[0].trace_flags = 3;
  spans[0].trace_state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
  spans[0].attributes = {{"str", "quote\" backslash\\ newline\n"},
                         {"bad utf8",
                          "a\xff\xc3"
                          "b"},
                         {"utf8", "caf\xc3\xa9 \xf0\x9f\x8d\xb5"},
                         {"zero", 0},
                         {"negative", -1},
                         {"int64 max", std::numeric_limits<std::int64_t>::max()},
                         {"int64 min", std::numeric_limits<std::int64_t>::min()},
                         {"double", 2.5},
                         {"tiny", 1e-300},
                         {"infinite", std::numeric_limits<double>::infinity()},
                         {"false", false},
                         {"true", true},
                         {"strings", {"x", "", "z"}},
                         {"ints", {1, -2}},
                         {"doubles", std::vector<double>{0.5, -0.0}},
                         {"bools", std::vector<bool>{true, false}},
                         {"empty string", ""},
                         {std::string(300, 'k'), std::string(70000, 'v')}};  // multi-byte lengths
  spans[0].dropped_attributes = 7;
  spans[0].events = {{"first", std::chrono::nanoseconds(1'700'000'000'000'000'123LL), {{"n", 1}}},
                     {"second", std::chrono::nanoseconds(1'700'000'000'000'000'456LL), {}}};
  spans[0].dropped_events = 2;
  spans[0].status = span_status::error;
  spans[0].status_message = "backend down";
  spans[1].status = span_status::ok;
  spans[2].name = "";
  BOOST_TEST(spans[0].attributes.size() > 3U);
  check_encodings_agree(spans);
  // Two resources: two ResourceSpans.
  std::string json_body;
  otlp::encode_json(spans, json_body);
  BOOST_TEST(json::parse(json_body).at("resourceSpans").size() == 2U);
}

// The writer copies short strings without a library call (one branch per length class)
// and leaves two bytes for a span's length: every string length up to 40, and span
// lengths on both sides of 128 and 16384 bytes, decode the same as the JSON encoding.
BOOST_AUTO_TEST_CASE(protobuf_strings_and_spans_of_every_length_class_decode) {
  std::vector<span_data> spans;
  auto res = std::make_shared<resource>();
  res->attributes = {{"service.name", "lengths"}};
  const auto add = [&](std::size_t name_length, std::string value) {
    span_data s = sample_spans(1)[0];
    s.resource = res;
    s.attributes.clear();
    s.events.clear();
    s.status = span_status::unset;
    s.parent_span_id = span_id();
    s.name = std::string(name_length, static_cast<char>('a' + name_length % 26));
    if (!value.empty()) s.attributes = {{"v", std::move(value)}};
    spans.push_back(std::move(s));
  };
  for (std::size_t n = 0; n <= 40; ++n) add(n, std::string(n, 'x'));
  add(0, "caf\xc3\xa9");  // short non-ASCII strings go another way
  add(0, "\xff");
  // A bare span is about 90 bytes; these cross 128 and 16384 for its length.
  for (std::size_t n = 0; n <= 60; ++n) add(n, "");
  for (std::size_t n = 16240; n <= 16330; ++n) add(n, "");
  add(70000, "");  // three length bytes
  check_encodings_agree(spans);
}

// The encoder makes room for a span from a bound on its size, then writes without
// checks: spans that come closest to the bound (every string byte invalid UTF-8, so each
// becomes three bytes; arrays and events everywhere; lengths just past each length
// class) still encode, and decode to what the JSON encoder says.
BOOST_AUTO_TEST_CASE(protobuf_spans_at_their_size_bound_encode_whole) {
  const auto invalid = [](std::size_t n) { return std::string(n, '\xff'); };
  auto res = std::make_shared<resource>();
  res->attributes = {{invalid(200), invalid(300)},
                     {"list", std::vector<std::string>{invalid(130), invalid(1)}}};
  std::vector<span_data> spans;
  for (const std::size_t n : {0, 1, 42, 43, 127, 128, 5461, 5462, 20000}) {
    span_data s = sample_spans(1)[0];
    s.resource = res;
    s.name = invalid(n);
    s.trace_state = invalid(n / 2 + 1);
    s.status = span_status::error;
    s.status_message = invalid(n);
    s.attributes = {{invalid(n), invalid(n)},
                    {"strings", std::vector<std::string>(50, invalid(n % 200))},
                    {"ints", std::vector<std::int64_t>(200, -1)},
                    {"doubles", std::vector<double>(130, 0.5)},
                    {"bools", std::vector<bool>(129, true)},
                    {"min", std::numeric_limits<std::int64_t>::min()}};
    for (int e = 0; e < 5; ++e) {
      s.events.push_back({invalid(n), s.start_time, {{invalid(n % 300), invalid(n)}, {"i", -5}}});
    }
    s.dropped_attributes = std::numeric_limits<std::uint32_t>::max();
    s.dropped_events = std::numeric_limits<std::uint32_t>::max();
    spans.push_back(std::move(s));
  }
  check_encodings_agree(spans);
}

BOOST_AUTO_TEST_CASE(protobuf_partial_success_is_counted_and_reported_once) {
  // ExportTraceServiceResponse{partial_success{rejected_spans: 2, error_message: "too old"}}
  const std::string answer("\x0a\x0b\x08\x02\x12\x07too old", 13);
  BOOST_REQUIRE(prela::testing::decode_otlp_protobuf(answer, "ExportTraceServiceResponse") ==
                json::parse(R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}})"));
  otlp_receiver receiver([&](std::size_t) { return otlp_receiver::answer{.body = answer}; });
  auto otlp = std::make_shared<otlp_http_exporter>(fast_options(receiver));
  prela::testing::captured_warnings captured;
  const auto before = get_tracer().stats();
  {
    traced t({.exporters = {otlp}});
    for (int batch = 0; batch < 2; ++batch) {
      for (int i = 0; i < 5; ++i) auto s = get_tracer().span("s");
      BOOST_TEST(force_flush(5s));
    }
  }
  const auto after = get_tracer().stats();
  BOOST_TEST(otlp->stats().rejected_spans == 4U);
  BOOST_TEST(otlp->stats().exported_spans == 6U);
  BOOST_TEST(after.export_failures - before.export_failures == 4U);  // in tracer_stats too
  BOOST_TEST(after.exported - before.exported == 6U + 10U);          // and 10 to traced's memory exporter
  const auto warnings = captured.lines();
  BOOST_REQUIRE(warnings.size() == 1U);
  BOOST_TEST(warnings[0].find("rejected 2 spans") != std::string::npos);
  BOOST_TEST(warnings[0].find("too old") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_protobuf_answers_read_as_nothing_rejected) {
  const std::vector<std::string> answers = {
      std::string("\x0a\xff\xff\xff\xff\x0f", 6),                               // a length far past the end
      std::string("\x0a\x03\x08\xff", 4),                                       // a varint cut short
      std::string("\x0a\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13),  // rejected_spans -1
      std::string("\x0f\x00\x01\x02", 4),                                       // wire type 7
      std::string(1000, '\xff'),                                                // an endless varint
      "<html>Bad gateway</html>"};
  otlp_receiver receiver([&](std::size_t n) { return otlp_receiver::answer{.body = answers.at(n)}; });
  otlp_http_exporter e(fast_options(receiver));
  for (std::size_t i = 0; i < answers.size(); ++i) {
    BOOST_TEST_CONTEXT(i) { BOOST_TEST((e.export_spans(sample_spans(3)) == export_result::success)); }
  }
  BOOST_TEST(e.stats().rejected_spans == 0U);
  BOOST_TEST(e.stats().exported_spans == 3U * answers.size());
}

BOOST_AUTO_TEST_CASE(gzip_bodies_are_retried_unchanged) {
  otlp_receiver receiver([](std::size_t n) { return otlp_receiver::answer{.status = n < 1 ? 503U : 200U}; });
  auto options = fast_options(receiver);
  options.compression = otlp_compression::gzip;
  otlp_http_exporter e(options);
  BOOST_TEST((e.export_spans(sample_spans(40)) == export_result::success));
  const auto r = receiver.requests();
  BOOST_REQUIRE(r.size() == 2U);
  BOOST_TEST(r[0].raw_body == r[1].raw_body);
  BOOST_TEST(static_cast<unsigned char>(r[1].raw_body.at(0)) == 0x1fU);  // gzip magic
  BOOST_TEST(receiver.accepted_spans().size() == 40U);
  BOOST_TEST(e.stats().bytes_sent == 2 * r[0].raw_body.size());
}

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
  otlp_receiver receiver;
  otlp_http_exporter e(fast_options(receiver));
  for (int i = 0; i < 5; ++i) BOOST_TEST((e.export_spans(sample_spans(10)) == export_result::success));
  BOOST_TEST(receiver.requests().size() == 5U);
  BOOST_TEST(receiver.connections() == 1);
}

BOOST_AUTO_TEST_CASE(unavailable_twice_then_ok_loses_nothing) {
  otlp_receiver receiver([](std::size_t n) { return otlp_receiver::answer{.status = n < 2 ? 503U : 200U}; });
  otlp_http_exporter e(fast_options(receiver));
  const auto spans = sample_spans(50);
  BOOST_TEST((e.export_spans(spans) == export_result::success));
  BOOST_TEST(receiver.requests().size() == 3U);
  BOOST_TEST(receiver.accepted_spans().size() == 50U);
  BOOST_TEST(e.stats().retries == 2U);
  BOOST_TEST(e.stats().exported_spans == 50U);
  BOOST_TEST(e.stats().dropped_spans == 0U);
  // Each retry carried the same body.
  const auto r = receiver.requests();
  BOOST_TEST(r[0].body == r[2].body);
}

BOOST_AUTO_TEST_CASE(too_many_requests_honours_retry_after) {
  otlp_receiver receiver([](std::size_t n) {
    return n == 0 ? otlp_receiver::answer{.status = 429, .retry_after = "1"} : otlp_receiver::answer{};
  });
  otlp_http_exporter e(fast_options(receiver));  // backoff alone would wait <= 20 ms
  BOOST_TEST((e.export_spans(sample_spans(3)) == export_result::success));
  const auto r = receiver.requests();
  BOOST_REQUIRE(r.size() == 2U);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(r[1].at - r[0].at).count() >= 950);
}

BOOST_AUTO_TEST_CASE(retry_after_beyond_the_timeout_gives_up_at_once) {
  otlp_receiver receiver(
      [](std::size_t) { return otlp_receiver::answer{.status = 503, .retry_after = "60"}; });
  auto options = fast_options(receiver);
  options.timeout = 2s;
  otlp_http_exporter e(options);
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST((e.export_spans(sample_spans(3)) == export_result::failure));
  BOOST_TEST((std::chrono::steady_clock::now() - start < 2s));
  BOOST_TEST(receiver.requests().size() == 1U);
  BOOST_TEST(e.stats().dropped_spans == 3U);
}

BOOST_AUTO_TEST_CASE(client_errors_are_not_retried) {
  otlp_receiver receiver([](std::size_t) { return otlp_receiver::answer{.status = 400, .body = "bad"}; });
  otlp_http_exporter e(fast_options(receiver));
  BOOST_TEST((e.export_spans(sample_spans(4)) == export_result::failure));
  BOOST_TEST(receiver.requests().size() == 1U);
  BOOST_TEST(e.stats().failed_batches == 1U);
  BOOST_TEST(e.stats().dropped_spans == 4U);
}

BOOST_AUTO_TEST_CASE(a_hostile_receivers_answer_cannot_forge_lines_of_output) {
  // The failure warning quotes the receiver's body: escaped, so an answer with ESC and
  // a newline cannot retitle a terminal or forge "delivers again".
  prela::testing::captured_warnings captured;
  {
    otlp_receiver receiver([](std::size_t) {
      return otlp_receiver::answer{.status = 400,
                                   .body = "nope\x1b]0;owned\x07\nprela: OTLP export to x delivers again"};
    });
    otlp_http_exporter e(fast_options(receiver));
    BOOST_TEST((e.export_spans(sample_spans(1)) == export_result::failure));
  }
  const auto warnings = captured.lines();
  BOOST_REQUIRE(warnings.size() == 1U);
  BOOST_TEST_MESSAGE(warnings[0]);
  BOOST_TEST(warnings[0].find("HTTP 400: nope\\x1B]0;owned\\x07\\nprela: OTLP export") != std::string::npos);
  for (const char c : warnings[0]) BOOST_TEST_REQUIRE(static_cast<unsigned char>(c) >= 0x20);
}

BOOST_AUTO_TEST_CASE(partial_success_counts_rejected_spans) {
  otlp_receiver receiver([](std::size_t) {
    return otlp_receiver::answer{.body =
                                     R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}})"};
  });
  auto options = fast_options(receiver);
  options.protocol = otlp_protocol::http_json;
  otlp_http_exporter e(options);
  BOOST_TEST((e.export_spans(sample_spans(5)) == export_result::success));
  BOOST_TEST(e.stats().rejected_spans == 2U);
  BOOST_TEST(e.stats().exported_spans == 3U);
}

BOOST_AUTO_TEST_CASE(connection_refused_finishes_within_the_timeout) {
  const unsigned short closed_port = unused_port();
  otlp_http_options o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(closed_port) + "/v1/traces";
  o.timeout = 600ms;
  o.initial_backoff = 50ms;
  o.max_backoff = 200ms;
  auto otlp = std::make_shared<otlp_http_exporter>(o);

  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST((otlp->export_spans(sample_spans(7)) == export_result::failure));
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST((took < 600ms + 1s));           // slack for loaded or sanitized runs
  BOOST_TEST(otlp->stats().requests >= 2U);  // retried with backoff meanwhile
  BOOST_TEST(otlp->stats().failed_batches == 1U);
  BOOST_TEST(otlp->stats().dropped_spans == 7U);

  // Through the tracer: the application keeps going, failures are counted.
  traced t({.exporters = {otlp}});
  const auto before = get_tracer().stats();
  for (int i = 0; i < 100; ++i) auto s = get_tracer().span("work");
  force_flush(5s);
  const auto after = get_tracer().stats();
  BOOST_TEST(after.export_failures - before.export_failures == 100U);
  BOOST_TEST(t.memory->spans().size() == 100U);  // the other exporter got everything
}

BOOST_AUTO_TEST_CASE(a_collector_that_never_answers_is_given_up_on_in_time) {
  otlp_receiver receiver([](std::size_t) { return otlp_receiver::answer{.never = true}; });
  auto options = fast_options(receiver);
  options.timeout = 500ms;
  otlp_http_exporter e(options);
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST((e.export_spans(sample_spans(2)) == export_result::failure));
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST((took >= 450ms));
  BOOST_TEST((took < 500ms + 1s));  // slack for loaded or sanitized runs
  BOOST_TEST(e.stats().dropped_spans == 2U);
  // The next export reconnects and, if the collector answers, succeeds: the hung
  // connection was abandoned.
}

BOOST_AUTO_TEST_CASE(queue_overflow_is_counted_exactly) {
  // A slow collector (100 ms per request) and a small queue: a burst of spans overflows.
  otlp_receiver receiver([](std::size_t) { return otlp_receiver::answer{.delay = 100ms}; });
  auto otlp = std::make_shared<otlp_http_exporter>(fast_options(receiver));
  constexpr std::uint64_t burst = 2000;
  init({.exporters = {otlp}, .max_queue_size = 64, .max_export_batch_size = 16});
  const auto before = get_tracer().stats();
  for (std::uint64_t i = 0; i < burst; ++i) auto s = get_tracer().span("burst");
  BOOST_TEST(shutdown(30s));
  const auto after = get_tracer().stats();
  const std::uint64_t dropped = after.dropped - before.dropped;
  const std::uint64_t delivered = otlp->stats().exported_spans;
  BOOST_TEST(dropped > 0U);
  BOOST_TEST(delivered == receiver.accepted_spans().size());
  BOOST_TEST(after.exported - before.exported == delivered);
  // Every span ended was either delivered or counted as dropped: none vanished.
  BOOST_TEST(burst == delivered + dropped + (after.export_failures - before.export_failures));
}

// --- TLS ---------------------------------------------------------------------------------
// Certificates made by the openssl command line for each test run: a CA, a server
// certificate for 127.0.0.1 from it, one from another CA, one for another name, an
// expired one, and a client certificate for mTLS.
namespace {

struct test_certificates {
  std::string dir;
  test_certificates() {
    char tmpl[] = "/tmp/prela-tls-XXXXXX";
    dir = ::mkdtemp(tmpl);
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run("openssl req -x509" + ec + " -keyout ca.key -out ca.crt -days 2 -subj '/CN=prela test CA'");
    run("openssl req -x509" + ec + " -keyout other-ca.key -out other-ca.crt -days 2 -subj '/CN=another CA'");
    issue("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1", "2");
    issue("wrong-ca", "other-ca", "subjectAltName=IP:127.0.0.1", "2");
    issue("other-name", "ca", "subjectAltName=DNS:other.example", "2");
    issue("expired", "ca", "subjectAltName=IP:127.0.0.1", "-1");
    issue("client", "ca", "extendedKeyUsage=clientAuth", "2");
  }
  ~test_certificates() { run("rm -rf " + dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }

 private:
  void run(const std::string& cmd) const {
    const std::string full = "cd " + dir + " && (" + cmd + ") >/dev/null 2>&1";
    if (std::system(full.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }
  void issue(const std::string& name, const std::string& ca, const std::string& ext,
             const std::string& days) const {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name + ".key -out " +
        name + ".csr -subj '/CN=" + name + "'");
    run("printf '%s\\n' '" + ext + "' > " + name + ".ext");
    run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -out " + name + ".crt -days " + days + " -extfile " + name + ".ext");
  }
};

const test_certificates& certificates() {
  static const test_certificates c;
  return c;
}

otlp_receiver::tls_setup serving(const std::string& name, bool require_client = false) {
  const auto& c = certificates();
  return {c.path(name + ".crt"), c.path(name + ".key"), require_client ? c.path("ca.crt") : std::string()};
}

otlp_http_options tls_options(const otlp_receiver& r) {
  auto o = fast_options(r);
  o.certificate_file = certificates().path("ca.crt");
  return o;
}

// Exports once against a receiver serving `name`; returns the one warning.
std::string rejected_with(const std::string& name) {
  prela::testing::captured_warnings captured;
  otlp_receiver receiver(otlp_receiver::always_ok, serving(name));
  otlp_http_exporter e(tls_options(receiver));
  BOOST_TEST((e.export_spans(sample_spans(2)) == export_result::failure));
  BOOST_TEST(receiver.requests().empty());  // nothing went out in plain text or otherwise
  BOOST_TEST(e.stats().requests == 1U);     // not retried: it would fail the same way
  BOOST_TEST(e.stats().dropped_spans == 2U);
  const auto lines = captured.lines();
  BOOST_REQUIRE(lines.size() == 1U);
  BOOST_TEST_MESSAGE(lines[0]);
  return lines[0];
}

}  // namespace

BOOST_AUTO_TEST_CASE(tls_with_a_valid_chain_delivers) {
  otlp_receiver receiver(otlp_receiver::always_ok, serving("server"));
  BOOST_TEST(receiver.endpoint().rfind("https://", 0) == 0U);
  otlp_http_exporter e(tls_options(receiver));
  for (int i = 0; i < 3; ++i) BOOST_TEST((e.export_spans(sample_spans(4)) == export_result::success));
  BOOST_TEST(receiver.accepted_spans().size() == 12U);
  BOOST_TEST(receiver.connections() == 1);  // one handshake, kept alive
}

BOOST_AUTO_TEST_CASE(tls_rejects_an_unknown_ca_another_name_and_an_expired_certificate) {
  BOOST_TEST(rejected_with("wrong-ca")
                 .find("server certificate rejected (unable to get local issuer certificate)") !=
             std::string::npos);
  BOOST_TEST(rejected_with("other-name").find("server certificate rejected (IP address mismatch)") !=
             std::string::npos);
  BOOST_TEST(rejected_with("expired").find("server certificate rejected (certificate has expired)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(mtls_receiver_accepts_our_client_certificate_and_refuses_none) {
  {
    otlp_receiver receiver(otlp_receiver::always_ok, serving("server", true));
    auto o = tls_options(receiver);
    o.client_certificate_file = certificates().path("client.crt");
    o.client_key_file = certificates().path("client.key");
    otlp_http_exporter e(o);
    BOOST_TEST((e.export_spans(sample_spans(3)) == export_result::success));
    BOOST_TEST(receiver.accepted_spans().size() == 3U);
  }
  {
    prela::testing::captured_warnings captured;
    otlp_receiver receiver(otlp_receiver::always_ok, serving("server", true));
    auto o = tls_options(receiver);
    o.timeout = 1s;
    otlp_http_exporter e(o);
    BOOST_TEST((e.export_spans(sample_spans(3)) == export_result::failure));
    BOOST_TEST(receiver.requests().empty());
    BOOST_TEST(receiver.wait_for_failed_handshakes(1));
    BOOST_TEST(receiver.failed_handshakes() == 1);
    BOOST_TEST(e.stats().requests == 1U);  // not retried: it would be refused again
    BOOST_TEST(e.stats().dropped_spans == 3U);
    BOOST_REQUIRE(captured.lines().size() == 1U);
    BOOST_TEST_MESSAGE(captured.lines()[0]);
    BOOST_TEST(captured.lines()[0].find("the server requires a client certificate") != std::string::npos);
  }
}

namespace {
// A loopback server that is not a TLS server: `handle` runs, as a coroutine on the
// server's own thread, for every connection it accepts.
class raw_server {
 public:
  using socket = boost::asio::ip::tcp::socket;
  explicit raw_server(std::function<boost::asio::awaitable<void>(socket)> handle)
      : acceptor_(io_, {boost::asio::ip::address_v4::loopback(), 0}) {
    boost::asio::co_spawn(io_, accept(std::move(handle)), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~raw_server() { stop(); }
  raw_server(const raw_server&) = delete;
  raw_server& operator=(const raw_server&) = delete;

  void stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int connections() const { return connections_.load(); }
  /// Options for an https endpoint on this server, trusting the test CA.
  otlp_http_options https_options(std::chrono::milliseconds timeout) const {
    otlp_http_options o;
    o.endpoint = "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/v1/traces";
    o.certificate_file = certificates().path("ca.crt");
    o.timeout = timeout;
    return o;
  }

 private:
  boost::asio::awaitable<void> accept(std::function<boost::asio::awaitable<void>(socket)> handle) {
    for (;;) {
      auto s = co_await acceptor_.async_accept(boost::asio::use_awaitable);
      connections_.fetch_add(1);
      boost::asio::co_spawn(io_, handle(std::move(s)), boost::asio::detached);
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> connections_{0};
  std::thread thread_;
};
}  // namespace

// An https endpoint whose server speaks plain HTTP (it answers the TLS hello with a
// 400, as web servers do): one clear failure, not retried, nothing sent in plain text.
BOOST_AUTO_TEST_CASE(https_to_a_plain_http_server_fails_once_and_says_why) {
  std::string first_bytes;  // of the first connection; written on the server's thread
  raw_server server([&](raw_server::socket s) -> boost::asio::awaitable<void> {
    boost::system::error_code ec;
    if (first_bytes.empty()) {
      char buf[5] = {};
      co_await boost::asio::async_read(s, boost::asio::buffer(buf),
                                       boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      first_bytes.assign(buf, sizeof buf);
    }
    static const std::string answer =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    co_await boost::asio::async_write(s, boost::asio::buffer(answer),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  });
  prela::testing::captured_warnings captured;
  {
    otlp_http_exporter e(server.https_options(2s));
    BOOST_TEST((e.export_spans(sample_spans(2)) == export_result::failure));
    BOOST_TEST(e.stats().requests == 1U);
    BOOST_TEST(e.stats().dropped_spans == 2U);
  }
  server.stop();
  BOOST_TEST(server.connections() == 1);
  BOOST_TEST(first_bytes[0] == '\x16');  // a TLS handshake record, not "POST "
  BOOST_REQUIRE(captured.lines().size() == 1U);
  BOOST_TEST_MESSAGE(captured.lines()[0]);
  BOOST_TEST(captured.lines()[0].find("does not speak TLS") != std::string::npos);
}

// An https endpoint that accepts the connection and never says a word: the handshake
// is bounded by the export timeout like any other wait, and the batch is a counted drop.
BOOST_AUTO_TEST_CASE(a_server_silent_during_the_tls_handshake_is_given_up_on_in_time) {
  raw_server server([](raw_server::socket s) -> boost::asio::awaitable<void> {
    // Reads what the client sends until it hangs up; writes nothing.
    std::string received;
    boost::system::error_code ec;
    co_await boost::asio::async_read(s, boost::asio::dynamic_buffer(received),
                                     boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  });
  prela::testing::captured_warnings captured;
  {
    otlp_http_exporter e(server.https_options(500ms));
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST((e.export_spans(sample_spans(2)) == export_result::failure));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
    BOOST_TEST(e.stats().dropped_spans == 2U);
  }
  server.stop();
  BOOST_TEST(server.connections() >= 1);
  BOOST_REQUIRE(captured.lines().size() == 1U);
  BOOST_TEST_MESSAGE(captured.lines()[0]);
  BOOST_TEST(captured.lines()[0].find("500 ms") != std::string::npos);
}

// Retries, Retry-After and timeouts work over TLS as over plain http.
BOOST_AUTO_TEST_CASE(tls_failures_are_retried_and_timed_out_like_plain_ones) {
  {
    otlp_receiver receiver([](std::size_t n) { return otlp_receiver::answer{.status = n < 2 ? 503U : 200U}; },
                           serving("server"));
    auto o = tls_options(receiver);
    o.compression = otlp_compression::gzip;
    otlp_http_exporter e(o);
    BOOST_TEST((e.export_spans(sample_spans(20)) == export_result::success));
    BOOST_TEST(e.stats().retries == 2U);
    BOOST_TEST(receiver.accepted_spans().size() == 20U);
    BOOST_TEST(receiver.connections() == 1);  // the retries reuse the TLS connection
  }
  {
    otlp_receiver receiver([](std::size_t) { return otlp_receiver::answer{.never = true}; },
                           serving("server"));
    auto o = tls_options(receiver);
    o.timeout = 500ms;
    otlp_http_exporter e(o);
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST((e.export_spans(sample_spans(5)) == export_result::failure));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
    BOOST_TEST(e.stats().dropped_spans == 5U);
  }
  {
    const unsigned short closed_port = unused_port();
    otlp_http_options o;
    o.endpoint = "https://127.0.0.1:" + std::to_string(closed_port) + "/v1/traces";
    o.certificate_file = certificates().path("ca.crt");
    o.timeout = 300ms;
    o.initial_backoff = 20ms;
    o.max_backoff = 50ms;
    otlp_http_exporter e(o);
    BOOST_TEST((e.export_spans(sample_spans(2)) == export_result::failure));
    BOOST_TEST(e.stats().retries >= 1U);
    BOOST_TEST(e.stats().dropped_spans == 2U);
  }
}

BOOST_AUTO_TEST_CASE(tls_files_that_cannot_be_used_are_refused_at_construction) {
  const std::string https = "https://127.0.0.1:4318/v1/traces";
  BOOST_CHECK_THROW(otlp_http_exporter({.endpoint = https, .certificate_file = "/nonexistent/ca.pem"}),
                    std::invalid_argument);
  otlp_http_options only_cert{.endpoint = https};
  only_cert.client_certificate_file = certificates().path("client.crt");
  BOOST_CHECK_THROW(otlp_http_exporter{only_cert}, std::invalid_argument);
  otlp_http_options key_mismatch{.endpoint = https};
  key_mismatch.client_certificate_file = certificates().path("client.crt");
  key_mismatch.client_key_file = certificates().path("server.key");
  BOOST_CHECK_THROW(otlp_http_exporter{key_mismatch}, std::invalid_argument);
  otlp_http_options not_pem{.endpoint = https};
  not_pem.certificate_file = "/proc/version";
  BOOST_CHECK_THROW(otlp_http_exporter{not_pem}, std::invalid_argument);
}
