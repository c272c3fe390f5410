#define BOOST_TEST_MODULE propagation
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "test_support.hpp"

using namespace prela;
using prela::testing::find;
using prela::testing::traced;
using headers = std::map<std::string, std::string>;

namespace {

constexpr std::string_view spec_traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const trace_id spec_trace_id(0x0af7651916cd43ddULL, 0x8448eb211c80319cULL);
const span_id spec_parent_id(0xb7ad6b7169203331ULL);

std::string tracestate_of(std::initializer_list<std::string_view> lines) {
  std::vector<std::string_view> v(lines);
  return w3c::parse_tracestate(v.data(), v.size());
}

std::map<std::string, std::string> baggage_of(std::string_view line) {
  return w3c::parse_baggage(&line, 1).to_map();
}

bool header_safe(std::string_view v) {
  for (char c : v) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f || b >= 0x80) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(traceparent)

BOOST_AUTO_TEST_CASE(the_specs_example_parses) {
  auto tp = w3c::parse_traceparent(spec_traceparent);
  BOOST_REQUIRE(tp.has_value());
  BOOST_TEST((tp->trace_id == spec_trace_id));
  BOOST_TEST((tp->parent_id == spec_parent_id));
  BOOST_TEST(tp->flags == 1);
}

BOOST_AUTO_TEST_CASE(valid_values) {
  struct row {
    std::string_view value;
    std::uint8_t flags;
  };
  const row rows[] = {
      {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", 0},
      {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", 3},      // Level 2 random flag
      {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff", 3},      // unknown flags dropped
      {" \t00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 ", 1},  // OWS around
      // A higher version: the first four fields are read, more may follow after a dash.
      {"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", 1},
      {"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-holds", 1},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT(r.value) {
      auto tp = w3c::parse_traceparent(r.value);
      BOOST_REQUIRE(tp.has_value());
      BOOST_TEST((tp->trace_id == spec_trace_id));
      BOOST_TEST(tp->flags == r.flags);
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_values) {
  const std::string_view rows[] = {
      "",
      "00",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",           // no flags
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",         // short flags
      "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",        // upper case
      "00-0af7651916cd43dd8448eb211c80319c-B7ad6b7169203331-01",        // upper case parent
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",        // zero trace id
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",        // zero parent id
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",        // version ff
      "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",        // version not hex
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",       // 00 with 5 fields
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",  // 00 with 5 fields
      "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01extra",   // no dash after flags
      "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",        // wrong separators
      "00-0af7651916cd43dd8448eb211c80319-cb7ad6b7169203331-01",        // misplaced dash
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01",        // not hex
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n",  // CR LF is not OWS
  };
  for (auto v : rows) {
    BOOST_TEST_CONTEXT(v) { BOOST_TEST(!w3c::parse_traceparent(v).has_value()); }
  }
}

// Every byte value at every hex position of the ids: exactly '0'-'9' and 'a'-'f' are
// accepted, and each digit lands in its own place (the parser reads eight at a time).
BOOST_AUTO_TEST_CASE(every_byte_at_every_id_position) {
  const std::string base(spec_traceparent);
  std::size_t mismatches = 0;
  for (std::size_t pos = 3; pos < 52; ++pos) {
    if (pos == 35) continue;  // the dash between the ids
    for (int b = 0; b < 256; ++b) {
      std::string v = base;
      v[pos] = static_cast<char>(b);
      const bool hex_digit = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
      const auto tp = w3c::parse_traceparent(v);
      if (tp.has_value() != hex_digit) {
        ++mismatches;
        continue;
      }
      if (!tp) continue;
      // Writing the ids back gives the value read.
      char out[48];
      tp->trace_id.to_hex(out);
      tp->parent_id.to_hex(out + 32);
      if (std::string_view(out, 32) != std::string_view(v).substr(3, 32) ||
          std::string_view(out + 32, 16) != std::string_view(v).substr(36, 16)) {
        ++mismatches;
      }
    }
  }
  BOOST_TEST(mismatches == 0U);
}

BOOST_AUTO_TEST_CASE(repeated_traceparent_headers_make_it_invalid) {
  boost::beast::http::fields f;
  f.insert("traceparent", spec_traceparent);
  f.insert("traceparent", spec_traceparent);
  f.insert("tracestate", "rojo=00f067aa0ba902b7");
  auto r = extract(f);
  BOOST_TEST(!r.is_valid());
  BOOST_TEST(r.trace_state.empty());  // no traceparent: tracestate is not used
  // In a map, the same name in another case is the same header, twice.
  auto m = extract(headers{{"traceparent", std::string(spec_traceparent)},
                           {"TraceParent", std::string(spec_traceparent)}});
  BOOST_TEST(!m.is_valid());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tracestate)

BOOST_AUTO_TEST_CASE(valid_lists_are_normalized) {
  struct row {
    std::vector<std::string_view> lines;
    std::string_view expected;
  };
  const row rows[] = {
      {{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
      {{"rojo=00f067aa0ba902b7 , \tcongo=t61rcWkgMzE"}, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
      {{"rojo=1,,  ,congo=2"}, "rojo=1,congo=2"},  // empty members are allowed and skipped
      {{"rojo=1", "congo=2"}, "rojo=1,congo=2"},   // several headers combine in order
      {{"tenant@system=v", "1tenant@s_y-s*t/m=v"}, "tenant@system=v,1tenant@s_y-s*t/m=v"},
      {{"k=value with spaces inside"}, "k=value with spaces inside"},
      {{"k= leading space is part of the value"}, "k= leading space is part of the value"},
      {{"a_-*/9=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"}, "a_-*/9=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"},
      {{""}, ""},
      // Keys as the current Level 2 text has them: a letter or digit, then keychars,
      // '@' among them anywhere and any number of times (the w3c test suite's cases).
      {{"foo@=1,bar=2"}, "foo@=1,bar=2"},
      {{"foo@@bar=1,bar=2"}, "foo@@bar=1,bar=2"},
      {{"foo@bar@baz=1,bar=2"}, "foo@bar@baz=1,bar=2"},
      {{"1rojo=1"}, "1rojo=1"},
      {{"t@systemlongerthan14=1"}, "t@systemlongerthan14=1"},
      {{"t@1sys=1"}, "t@1sys=1"},
      // Duplicate keys: the first is kept, the header is not dropped.
      {{"rojo=1,rojo=2,congo=3"}, "rojo=1,congo=3"},
      {{"foo=1", "foo=1"}, "foo=1"},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT(r.expected) {
      BOOST_TEST(w3c::parse_tracestate(r.lines.data(), r.lines.size()) == r.expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_lists_are_dropped_whole) {
  const std::string_view rows[] = {
      "rojo",              // no value
      "rojo=",             // empty value
      "Rojo=1",            // upper-case key
      "_rojo=1",           // key starts with a keychar that is not a letter or digit
      "ro jo=1",           // space in key
      "foo.bar=1",         // '.' in key
      "rojo=a=b",          // '=' in value
      "rojo=a\tb",         // tab in value
      "rojo=caf\xc3\xa9",  // non-ASCII value
      "@s=1,bar=2",        // key starts with '@' (the w3c suite: all dropped)
      "foo=,bar=3",        // empty value spoils the list
      "ok=1,bad key=2",    // one bad member spoils the list
  };
  for (auto v : rows) {
    BOOST_TEST_CONTEXT(v) { BOOST_TEST(tracestate_of({v}).empty()); }
  }
}

BOOST_AUTO_TEST_CASE(key_and_value_length_limits) {
  const std::string key256 = "k" + std::string(255, 'a');
  const std::string value256(256, 'v');
  BOOST_TEST(tracestate_of({key256 + "=1"}) == key256 + "=1");
  BOOST_TEST(tracestate_of({key256 + "a=1"}).empty());
  BOOST_TEST(tracestate_of({"k=" + value256}) == "k=" + value256);
  BOOST_TEST(tracestate_of({"k=" + value256 + "v"}).empty());
  // '@' counts as any keychar: 256 characters in all, wherever it is.
  const std::string with_at = std::string(241, 't') + "@" + std::string(14, 'v');
  BOOST_TEST(tracestate_of({"foo=1", with_at + "=1"}) == "foo=1," + with_at + "=1");
  const std::string late_at = std::string(242, 't') + "@v";
  BOOST_TEST(tracestate_of({"foo=1", late_at + "=1"}) == "foo=1," + late_at + "=1");
  BOOST_TEST(tracestate_of({"foo=1", "t@" + std::string(15, 'v') + "=1"}) ==
             "foo=1,t@" + std::string(15, 'v') + "=1");
  BOOST_TEST(tracestate_of({"t@" + std::string(254, 'v') + "=1"}).size() == 258U);
  BOOST_TEST(tracestate_of({"t@" + std::string(255, 'v') + "=1"}).empty());
  BOOST_TEST(tracestate_of({"k=value "}) == "k=value");  // trailing space is OWS
}

BOOST_AUTO_TEST_CASE(at_most_32_members) {
  std::string list;
  for (int i = 0; i < 32; ++i) list += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  BOOST_TEST(tracestate_of({list}) == list);
  BOOST_TEST(tracestate_of({list + ",k32=v"}).empty());
  BOOST_TEST(tracestate_of({list, "k32=v"}).empty());
}

BOOST_AUTO_TEST_CASE(long_lists_are_truncated_as_the_spec_says) {
  // 4 members of 120 characters and one of 200: 4*120 + 200 + 4 commas > 512.
  auto member = [](char key, std::size_t size) {
    return std::string(1, key) + "=" + std::string(size - 2, 'x');
  };
  const std::string a = member('a', 120);
  const std::string big = member('b', 200);
  const std::string c = member('c', 120);
  const std::string d = member('d', 120);
  const std::string e = member('e', 120);
  // The member over 128 characters goes first.
  BOOST_TEST(tracestate_of({a + "," + big + "," + c + "," + d + "," + e}) == a + "," + c + "," + d + "," + e);
  // Then members from the end.
  const std::string f = member('f', 120);
  BOOST_TEST(tracestate_of({a + "," + c + "," + d + "," + e + "," + f}) == a + "," + c + "," + d + "," + e);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(baggage)

BOOST_AUTO_TEST_CASE(the_specs_examples) {
  auto b = baggage_of("userId=alice,serverNode=DF%2028,isProduction=false");
  BOOST_TEST(b.size() == 3U);
  BOOST_TEST(b["userId"] == "alice");
  BOOST_TEST(b["serverNode"] == "DF 28");
  BOOST_TEST(b["isProduction"] == "false");

  auto p =
      baggage_of("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue");
  BOOST_TEST(p.size() == 3U);
  BOOST_TEST(p["key1"] == "value1");  // properties are parsed, then dropped
  BOOST_TEST(p["key2"] == "value2");
  BOOST_TEST(p["key3"] == "value3");
}

BOOST_AUTO_TEST_CASE(bad_entries_are_skipped_one_by_one) {
  auto b = baggage_of(
      "good=1,novalue,=nokey,bad key=2,sp=a b,quote=\"x\",bs=a\\b,pct=%zz,trunc=%4,"
      "badprop=1;=x,ok2=2;p=v;q,empty=");
  BOOST_TEST(b.size() == 3U);
  BOOST_TEST(b["good"] == "1");
  BOOST_TEST(b["ok2"] == "2");
  BOOST_TEST(b["empty"] == "");
}

BOOST_AUTO_TEST_CASE(percent_decoding_and_utf8) {
  BOOST_TEST(baggage_of("k=caf%C3%A9")["k"] == "caf\xc3\xa9");
  BOOST_TEST(baggage_of("k=%e2%82%ac")["k"] == "\xe2\x82\xac");  // either case of hex
  BOOST_TEST(baggage_of("k=%2C%3B%3D%25")["k"] == ",;=%");
  // Octets that are not UTF-8 become U+FFFD, one per bad byte.
  BOOST_TEST(baggage_of("k=a%FFb")["k"] ==
             "a\xEF\xBF\xBD"
             "b");
  BOOST_TEST(baggage_of("k=%C3")["k"] == "\xEF\xBF\xBD");
  BOOST_TEST(baggage_of("k=%ED%A0%80")["k"] == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  BOOST_TEST(baggage_of("k=%C0%AF")["k"] == "\xEF\xBF\xBD\xEF\xBF\xBD");                 // overlong
}

BOOST_AUTO_TEST_CASE(later_duplicates_win_and_lines_combine) {
  std::vector<std::string_view> lines = {"a=1,b=2", "a=3"};
  auto b = w3c::parse_baggage(lines.data(), lines.size()).to_map();
  BOOST_TEST(b["a"] == "3");
  BOOST_TEST(b["b"] == "2");
}

BOOST_AUTO_TEST_CASE(limits_drop_entries_never_the_request) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  auto b = baggage_of(many);
  BOOST_TEST(b.size() == propagation_limits::baggage_entries);
  BOOST_TEST(b.count("k179") == 1U);
  BOOST_TEST(b.count("k180") == 0U);

  // 8192 bytes: three 3000-byte entries, the third does not fit.
  const std::string big(2996, 'x');
  auto sized = baggage_of("a=" + big + ",b=" + big + ",c=" + big);
  BOOST_TEST(sized.size() == 2U);
  BOOST_TEST(sized.count("c") == 0U);
}

BOOST_AUTO_TEST_CASE(format_percent_encodes_and_round_trips_any_value) {
  const std::map<std::string, std::string> in = {
      {"plain", "alice"},
      {"space", "a b"},
      {"seps", ",;=%\"\\"},
      {"crlf", "line1\r\nline2"},
      {"utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"empty", ""},
  };
  const std::string header = w3c::format_baggage(in);
  BOOST_TEST(header_safe(header));
  BOOST_TEST(header.find(' ') == std::string::npos);
  BOOST_TEST((baggage_of(header) == in));
}

BOOST_AUTO_TEST_CASE(format_skips_keys_that_are_not_tokens_and_respects_limits) {
  const std::string header = w3c::format_baggage({{"bad key", "1"}, {"k\r\n", "2"}, {"good", "3"}});
  BOOST_TEST(header == "good=3");
  std::map<std::string, std::string> many;
  for (int i = 0; i < 300; ++i) many["k" + std::to_string(i)] = "v";
  BOOST_TEST(baggage_of(w3c::format_baggage(many)).size() == propagation_limits::baggage_entries);
  std::map<std::string, std::string> big = {
      {"a", std::string(5000, 'x')}, {"b", std::string(5000, 'y')}, {"c", "small"}};
  const std::string sized = w3c::format_baggage(big);
  BOOST_TEST(sized.size() <= propagation_limits::baggage_bytes);
  BOOST_TEST(baggage_of(sized).size() == 2U);  // "b" does not fit, "c" still does
  // Escapes grow a value threefold: 3000 bytes needing them do not fit, even alone.
  BOOST_TEST(w3c::format_baggage({{"alone", std::string(3000, '\xff')}}).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(extract_from_carriers)

BOOST_AUTO_TEST_CASE(w3c_headers_any_case) {
  headers h = {{"TraceParent", std::string(spec_traceparent)},
               {"TRACESTATE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
               {"Baggage", "userId=alice"},
               {"Content-Type", "text/plain"}};
  auto r = extract(h);
  BOOST_TEST(r.is_valid());
  BOOST_TEST((r.trace_id == spec_trace_id));
  BOOST_TEST((r.span_id == spec_parent_id));
  BOOST_TEST(r.sampled);
  BOOST_TEST(!r.random_trace_id);
  BOOST_TEST(r.trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  BOOST_TEST((r.baggage.get("userId") == "alice"));
}

BOOST_AUTO_TEST_CASE(formats_select_what_is_read) {
  headers h = {{"traceparent", std::string(spec_traceparent)}, {"baggage", "a=1"}};
  auto only_baggage = extract(h, formats::baggage);
  BOOST_TEST(!only_baggage.is_valid());
  BOOST_TEST(only_baggage.baggage.size() == 1U);
  auto only_tc = extract(h, formats::trace_context);
  BOOST_TEST(only_tc.is_valid());
  BOOST_TEST(only_tc.baggage.empty());
  BOOST_TEST(!extract(h, formats::none).is_valid());
}

BOOST_AUTO_TEST_CASE(unordered_map_and_beast_fields) {
  std::unordered_map<std::string, std::string> u = {{"traceparent", std::string(spec_traceparent)}};
  BOOST_TEST((extract(u).trace_id == spec_trace_id));

  boost::beast::http::request<boost::beast::http::string_body> req;
  req.set("Traceparent", spec_traceparent);
  req.insert("tracestate", "rojo=1");
  req.insert("TraceState", "congo=2");  // repeated fields combine
  req.insert("baggage", "a=1");
  req.insert("baggage", "b=2");
  for (const auto& r : {extract(req.base()), extract(req)}) {
    BOOST_TEST((r.trace_id == spec_trace_id));
    BOOST_TEST(r.trace_state == "rojo=1,congo=2");
    BOOST_TEST(r.baggage.size() == 2U);
  }
}

BOOST_AUTO_TEST_CASE(getter_callable) {
  const headers h = {{"traceparent", std::string(spec_traceparent)}, {"x-other", "1"}};
  auto get = [&](std::string_view name) -> std::optional<std::string_view> {
    auto it = h.find(std::string(name));
    if (it == h.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  BOOST_TEST((extract(get).trace_id == spec_trace_id));
  auto get_ptr = [&](std::string_view name) -> const std::string* {
    auto it = h.find(std::string(name));
    return it == h.end() ? nullptr : &it->second;
  };
  BOOST_TEST((extract(get_ptr).span_id == spec_parent_id));
}

BOOST_AUTO_TEST_CASE(x_trace_id_pair) {
  auto hex =
      extract(headers{{"X-Trace-ID", "0AF7651916CD43DD8448EB211C80319C"}, {"X-Span-ID", "b7ad6b7169203331"}});
  BOOST_TEST(hex.is_valid());
  BOOST_TEST((hex.trace_id == spec_trace_id));
  BOOST_TEST((hex.span_id == spec_parent_id));
  BOOST_TEST(hex.sampled);

  auto uuid = extract(headers{{"x-trace-id", "0af76519-16cd-43dd-8448-eb211c80319c"}});
  BOOST_TEST((uuid.trace_id == spec_trace_id));
  BOOST_TEST(!uuid.span_id.is_valid());  // trace id only: a root span in that trace

  for (std::string_view bad : {"0af76519-16cd-43dd-8448eb211c80319c-", "0af7651916cd43dd8448eb211c80319",
                               "00000000000000000000000000000000", "not-a-trace-id"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(!extract(headers{{"X-Trace-ID", std::string(bad)}}).trace_id.is_valid());
    }
  }
  // traceparent wins over the pair.
  auto both = extract(headers{{"traceparent", std::string(spec_traceparent)},
                              {"X-Trace-ID", "11111111111111111111111111111111"}});
  BOOST_TEST((both.trace_id == spec_trace_id));
  // An invalid traceparent falls back to the pair.
  auto fallback =
      extract(headers{{"traceparent", "garbage"}, {"X-Trace-ID", "11111111111111111111111111111111"}});
  BOOST_TEST((fallback.trace_id == trace_id(0x1111111111111111ULL, 0x1111111111111111ULL)));
}

BOOST_AUTO_TEST_CASE(hostile_input_never_throws) {
  const std::string junk(100000, '\xff');
  headers h = {{"traceparent", junk},
               {"tracestate", junk},
               {"baggage", junk},
               {"x-trace-id", junk},
               {"x-span-id", junk}};
  remote_context r;
  BOOST_CHECK_NO_THROW(r = extract(h));
  BOOST_TEST(!r.is_valid());
  BOOST_TEST(r.baggage.empty());

  boost::beast::http::fields many;
  for (int i = 0; i < 100; ++i) many.insert("baggage", "k" + std::to_string(i) + "=v");
  // Lines past incoming_headers::max_lines are not read; the request still works.
  BOOST_TEST(extract(many).baggage.size() == detail::incoming_headers::max_lines);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(inject_and_continue)

BOOST_AUTO_TEST_CASE(inject_writes_the_current_span) {
  traced t;
  headers h;
  inject(h);
  BOOST_TEST(h.empty());  // nothing current: nothing to propagate
  {
    auto s = get_tracer().span("client call", span_type::tool);
    set_baggage("user id", "x");  // not a token: cannot be sent
    set_baggage("userId", "alice smith");
    inject(h);
    const std::string tp = h.at("traceparent");
    BOOST_TEST(tp ==
               "00-" + s->trace_id().to_hex() + "-" + s->span_id().to_hex() + "-03");  // sampled, random
    BOOST_TEST(h.count("tracestate") == 0U);
    BOOST_TEST(h.at("baggage") == "userId=alice%20smith");
    BOOST_TEST(h.at("X-Trace-ID") == s->trace_id().to_hex());
    BOOST_TEST(h.at("X-Span-ID") == s->span_id().to_hex());
    remove_baggage("user id");
    remove_baggage("userId");
  }
}

// inject() keeps the encoded baggage with the context's entries: every change of the
// baggage must show in the next inject, whichever context is current.
BOOST_AUTO_TEST_CASE(inject_follows_every_baggage_change) {
  traced t;
  auto flow = new_trace_context();
  auto s = get_tracer().span("client call");
  headers h;
  set_baggage("a", "1");
  inject(h, formats::baggage);
  BOOST_TEST(h.at("baggage") == "a=1");
  inject(h, formats::baggage);
  BOOST_TEST(h.at("baggage") == "a=1");
  set_baggage("b", "2 3");
  inject(h, formats::baggage);
  BOOST_TEST(h.at("baggage") == "a=1,b=2%203");
  remove_baggage("a");
  inject(h, formats::baggage);
  BOOST_TEST(h.at("baggage") == "b=2%203");
  {
    auto other = new_trace_context({.baggage = {{"c", "4"}}});
    inject(h, formats::baggage);
    BOOST_TEST(h.at("baggage") == "c=4");
  }
  inject(h, formats::baggage);
  BOOST_TEST(h.at("baggage") == "b=2%203");
  get_trace_context().clear_baggage();
  inject(h, formats::baggage);
  BOOST_TEST(h.count("baggage") == 0U);
}

// Storage built from extracted entries, from a context's changes to them and from a
// merge carries each entry's encoded size along: every header written from it must be
// the one a fresh encoding of the same entries gives, for few entries and for many.
BOOST_AUTO_TEST_CASE(changed_baggage_is_written_as_freshly_encoded) {
  traced t;
  const auto fresh = [](const prela::baggage& b) { return w3c::format_baggage(b.to_map()); };
  for (const int extra : {0, 100}) {
    auto flow = new_trace_context();
    std::string incoming = "plain=alice,esc=a%20b%2C,utf=caf%C3%A9,sp = v ;prop=1";
    for (int i = 0; i < extra; ++i) incoming += ",k" + std::to_string(i) + "=v" + std::to_string(i);
    const auto r = extract(headers{{"traceparent", std::string(spec_traceparent)}, {"baggage", incoming}});
    BOOST_REQUIRE(r.baggage.size() == 4U + static_cast<std::size_t>(extra));
    auto s = get_tracer().span("server", span_type::agent, r);
    const auto injected = [] {
      headers h;
      inject(h, formats::baggage);
      return h.count("baggage") != 0U ? h.at("baggage") : std::string();
    };
    BOOST_TEST(injected() == fresh(get_trace_context().baggage()));
    BOOST_TEST(injected().find("esc=a%20b%2C") != std::string::npos);
    set_baggage("added", "x,y");
    set_baggage("plain", "bob");
    BOOST_TEST(injected() == fresh(get_trace_context().baggage()));
    BOOST_TEST(injected().find("added=x%2Cy") != std::string::npos);
    get_trace_context().set_baggage(prela::baggage{{"utf", "\xff"}, {"new key", "not a token"}, {"z", "1"}});
    BOOST_TEST(injected() == fresh(get_trace_context().baggage()));
    BOOST_TEST(injected().find("new key") == std::string::npos);
    BOOST_TEST((get_baggage("new key") == std::optional<std::string>("not a token")));
    BOOST_TEST(remove_baggage("esc"));
    BOOST_TEST(injected() == fresh(get_trace_context().baggage()));
  }
}

// Forks share their origin's entries, so threads injecting at once all reach for the
// same kept header: each must write the whole, right value (run under TSan by .ci/run).
BOOST_AUTO_TEST_CASE(forks_inject_the_same_baggage_at_once) {
  traced t;
  auto flow = new_trace_context();
  auto s = get_tracer().span("fan out");
  for (int i = 0; i < 20; ++i) set_baggage("key" + std::to_string(i), "value " + std::to_string(i));
  const std::string expected = w3c::format_baggage(get_trace_context().baggage());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(copy_context_to_thread([&] {
      for (int n = 0; n < 500; ++n) {
        headers out;
        inject(out, formats::baggage);
        if (out["baggage"] != expected) ++wrong;
      }
    }));
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(expected.find("key19=value%2019") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(inject_replaces_stale_headers_in_any_case) {
  traced t;
  headers h = {{"TraceParent", "stale"},
               {"tracestate", "stale=1"},
               {"BAGGAGE", "stale=1"},
               {"x-span-id", "1"},
               {"Host", "example"}};
  {
    auto s = get_tracer().span("s");
    inject(h);
  }
  BOOST_TEST(h.size() == 4U);  // Host, traceparent, X-Trace-ID, X-Span-ID
  BOOST_TEST(h.count("Host") == 1U);
  BOOST_TEST(h.count("TraceParent") == 0U);
  BOOST_TEST(h.count("tracestate") == 0U);
  BOOST_TEST(h.count("BAGGAGE") == 0U);

  boost::beast::http::fields f;
  f.insert("traceparent", "stale");
  f.insert("traceparent", "stale2");
  f.insert("tracestate", "stale=1");
  {
    auto s = get_tracer().span("s");
    inject(f);
    BOOST_TEST(std::distance(f.equal_range("traceparent").first, f.equal_range("traceparent").second) == 1);
    BOOST_TEST(f.count("tracestate") == 0U);
    BOOST_TEST((extract(f).span_id == s->span_id()));
  }
}

BOOST_AUTO_TEST_CASE(continuing_a_remote_trace) {
  traced t;
  headers in = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"},
                {"tracestate", "rojo=00f067aa0ba902b7"},
                {"baggage", "userId=alice"}};
  headers out;
  {
    auto server = get_tracer().span("handle", span_type::agent, extract(in));
    BOOST_TEST((server->trace_id() == spec_trace_id));
    BOOST_TEST((server->parent_span_id() == spec_parent_id));
    BOOST_TEST((get_baggage("userId") == "alice"));
    auto client = get_tracer().span("call", span_type::tool);
    inject(out);
    // The downstream request carries our span as parent, the caller's tracestate
    // unchanged (we add no entry of our own) and the random flag preserved.
    BOOST_TEST(out.at("traceparent") ==
               "00-0af7651916cd43dd8448eb211c80319c-" + client->span_id().to_hex() + "-03");
    BOOST_TEST(out.at("tracestate") == "rojo=00f067aa0ba902b7");
    BOOST_TEST(out.at("baggage") == "userId=alice");
  }
  auto spans = t.spans();
  const span_data* handle = find(spans, "handle");
  BOOST_REQUIRE(handle != nullptr);
  BOOST_TEST(handle->parent_is_remote);
  BOOST_TEST((handle->parent_span_id == spec_parent_id));
  BOOST_TEST(handle->trace_state == "rojo=00f067aa0ba902b7");
  BOOST_TEST(!find(spans, "call")->parent_is_remote);
}

BOOST_AUTO_TEST_CASE(remote_sampled_flag_is_honoured_by_parent_based) {
  traced t({.sampler = parent_based(always_on())});
  {
    auto s = get_tracer().span(
        "not sampled upstream", span_type::custom,
        extract(headers{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}}));
    BOOST_TEST(!s->is_sampled());
    headers out;
    inject(out);
    BOOST_TEST(out.at("traceparent").substr(53) == "00");  // the decision travels on
  }
}

BOOST_AUTO_TEST_CASE(remote_sampled_flag_overrides_a_root_sampler_that_says_no) {
  traced t({.sampler = parent_based(always_off())});
  auto s = get_tracer().span("sampled upstream", span_type::custom,
                             extract(headers{{"traceparent", std::string(spec_traceparent)}}));
  BOOST_TEST(s->is_sampled());
}

BOOST_AUTO_TEST_CASE(invalid_parent_starts_a_new_trace_with_the_baggage) {
  traced t;
  auto r = extract(headers{{"traceparent", "00-zz"}, {"baggage", "tenant=acme"}});
  auto s = get_tracer().span("root", span_type::agent, r);
  BOOST_TEST(s->trace_id().is_valid());
  BOOST_TEST(!s->parent_span_id().is_valid());
  BOOST_TEST((get_baggage("tenant") == "acme"));
  remove_baggage("tenant");
}

// The extracted entries become the request's baggage as they are (no copy), and the
// header encoded for the first downstream call is reused for the next ones.
BOOST_AUTO_TEST_CASE(continuing_a_trace_shares_the_extracted_baggage) {
  traced t;
  auto flow = new_trace_context();
  const auto r =
      extract(headers{{"traceparent", std::string(spec_traceparent)}, {"baggage", "tenant=acme,b=2%203"}});
  BOOST_REQUIRE(r.baggage.size() == 2U);
  auto s = get_tracer().span("server", span_type::agent, r);
  const prela::baggage in_context = get_trace_context().baggage();
  BOOST_TEST(&*in_context.begin() == &*r.baggage.begin());
  headers first;
  inject(first, formats::baggage);
  BOOST_TEST(first.at("baggage") == "b=2%203,tenant=acme");
  const char* kept = get_trace_context().baggage_entries()->header();
  BOOST_REQUIRE(kept != nullptr);
  headers second;
  inject(second, formats::baggage);
  BOOST_TEST(second.at("baggage") == "b=2%203,tenant=acme");
  BOOST_TEST(static_cast<const void*>(get_trace_context().baggage_entries()->header()) ==
             static_cast<const void*>(kept));
  // Changing the request's baggage leaves the extracted value as it was.
  set_baggage("tenant", "other");
  BOOST_TEST((r.baggage.get("tenant") == "acme"));
}

BOOST_AUTO_TEST_CASE(x_trace_id_alone_starts_a_root_in_that_trace) {
  traced t;
  auto s = get_tracer().span("root", span_type::agent,
                             extract(headers{{"X-Trace-ID", "0af7651916cd43dd8448eb211c80319c"}}));
  BOOST_TEST((s->trace_id() == spec_trace_id));
  BOOST_TEST(!s->parent_span_id().is_valid());
}

BOOST_AUTO_TEST_CASE(setter_callable_and_round_trip) {
  traced t;
  auto s = get_tracer().span("s");
  set_baggage("k", "v;with=odd,chars\r\n");
  std::vector<std::pair<std::string, std::string>> written;
  inject([&](std::string_view name, std::string_view value) { written.emplace_back(name, value); },
         formats::w3c);
  BOOST_TEST(written.size() == 2U);  // traceparent, baggage: no X-Trace-ID in w3c
  for (const auto& [name, value] : written) BOOST_TEST(header_safe(value));
  headers carrier(written.begin(), written.end());
  auto r = extract(carrier);
  BOOST_TEST((r.trace_id == s->trace_id()));
  BOOST_TEST((r.span_id == s->span_id()));
  BOOST_TEST(r.sampled);
  BOOST_TEST(r.random_trace_id);
  BOOST_TEST((r.baggage.get("k") == "v;with=odd,chars\r\n"));
  remove_baggage("k");
}

BOOST_AUTO_TEST_SUITE_END()
