#define BOOST_TEST_MODULE console_exporter
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <thread>

#include "prela/exporters/console.hpp"
#include "test_support.hpp"

using namespace prela;

BOOST_AUTO_TEST_CASE(prints_one_tree_per_trace_with_durations_and_bars) {
  std::ostringstream out;
  init({.service_name = "console-test", .exporters = {std::make_shared<console_exporter>(out)}});
  {
    auto agent = get_tracer().span("handle_request", span_type::agent, {{"user", "u1"}});
    {
      auto tool = get_tracer().span("search", span_type::tool);
      std::this_thread::sleep_for(std::chrono::milliseconds(4));
      tool->add_event("results_ready");
    }
    {
      auto llm = get_tracer().span("generate", span_type::llm);
      std::this_thread::sleep_for(std::chrono::milliseconds(4));
      auto nested = get_tracer().span("tokenize", span_type::custom);
      nested->set_status(span_status::error, "bad input");
    }
  }
  { auto other = get_tracer().span("second_trace"); }
  BOOST_TEST(shutdown());
  const std::string text = out.str();
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("service=console-test") != std::string::npos);
  // Two traces, the first with its tree in start order.
  std::size_t traces = 0;
  for (std::size_t p = text.find("trace "); p != std::string::npos; p = text.find("\ntrace ", p + 1))
    ++traces;
  BOOST_TEST(traces == 2U);
  const auto root = text.find("handle_request [agent]");
  const auto search = text.find("├─ search [tool]");
  const auto generate = text.find("└─ generate [llm]");
  const auto tokenize = text.find("   └─ tokenize [custom]");
  BOOST_TEST(root != std::string::npos);
  BOOST_TEST(search != std::string::npos);
  BOOST_TEST(generate != std::string::npos);
  BOOST_TEST(tokenize != std::string::npos);
  BOOST_TEST((root < search && search < generate && generate < tokenize));
  BOOST_TEST(text.find("ERROR: bad input") != std::string::npos);
  BOOST_TEST(text.find("user=u1") != std::string::npos);
  BOOST_TEST(text.find("events: results_ready +") != std::string::npos);
  BOOST_TEST(text.find(" ms") != std::string::npos);
  // The root's bar is full width; the search bar covers only part of it.
  const auto line_of = [&](std::size_t pos) {
    const auto begin = text.rfind('\n', pos) + 1;
    return text.substr(begin, text.find('\n', pos) - begin);
  };
  const auto count_blocks = [](const std::string& line) {
    std::size_t n = 0;
    for (std::size_t p = line.find("█"); p != std::string::npos; p = line.find("█", p + 1)) ++n;
    return n;
  };
  BOOST_TEST(count_blocks(line_of(root)) == 32U);
  BOOST_TEST(count_blocks(line_of(search)) >= 1U);
  BOOST_TEST(count_blocks(line_of(search)) < 32U);
}

BOOST_AUTO_TEST_CASE(spans_of_unfinished_traces_are_printed_at_flush) {
  std::ostringstream out;
  init({.exporters = {std::make_shared<console_exporter>(out)}});
  auto root = get_tracer().start_span("still_running");
  { auto child = get_tracer().span("finished_child"); }
  BOOST_TEST(force_flush());
  BOOST_TEST(out.str().find("finished_child") != std::string::npos);
  BOOST_TEST(out.str().find("incomplete") != std::string::npos);
  root.end();
  BOOST_TEST(shutdown());
  BOOST_TEST(out.str().find("still_running") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(print_trace_draws_a_whole_trace_across_remote_hops_at_once) {
  // One trace crossing a process boundary inside this process (a client span, then a
  // server span continuing it from the headers): the console exporter alone prints the
  // server part as soon as that local root ends; print_trace draws the whole tree.
  prela::testing::traced t;
  {
    auto client = get_tracer().span("POST /agent", span_type::custom);
    remote_context remote;
    remote.trace_id = client->trace_id();
    remote.span_id = client->span_id();
    remote.sampled = true;
    {
      auto server = get_tracer().span("handle_request", span_type::agent, remote);
      auto tool = get_tracer().span("search", span_type::tool);
    }
  }
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 3U);
  std::ostringstream out;
  print_trace(out, spans);
  const std::string text = out.str();
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("spans=3") != std::string::npos);
  const auto client = text.find("\nPOST /agent [custom]");
  const auto server = text.find("└─ handle_request [agent]");
  const auto tool = text.find("   └─ search [tool]");
  BOOST_TEST((client != std::string::npos && server != std::string::npos && tool != std::string::npos));
  BOOST_TEST((client < server && server < tool));
  BOOST_TEST(text.find("incomplete") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(control_characters_in_names_and_values_are_escaped) {
  // A name that retitles the terminal, an attribute that forges a line of prela output,
  // a status message with a bell and a bidirectional override, invalid UTF-8.
  prela::testing::traced t;
  {
    auto root =
        get_tracer().span("\x1b]0;pwned\x07root", span_type::agent,
                          {{"note\r", "ok\nprela: delivers again"}, {"bytes", std::string("\xff\xfe", 2)}});
    root->add_event("tick\x1b[2J");
    root->set_status(span_status::error, "bad\a \u202Egnp.exe");
  }
  std::ostringstream out;
  print_trace(out, t.spans());
  const std::string text = out.str();
  BOOST_TEST_MESSAGE(text);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    BOOST_TEST_REQUIRE((u >= 0x20 || c == '\n'), "raw control character " << static_cast<int>(u));
  }
  BOOST_TEST(text.find("\\x1B]0;pwned\\x07root [agent]") != std::string::npos);
  BOOST_TEST(text.find("note\\r=ok\\nprela: delivers again") != std::string::npos);
  BOOST_TEST(text.find("bytes=\\xFF\\xFE") != std::string::npos);
  BOOST_TEST(text.find("tick\\x1B[2J") != std::string::npos);
  BOOST_TEST(text.find("ERROR: bad\\x07 \\u{202E}gnp.exe") != std::string::npos);
  // Exactly the tree's lines: header, one row, attributes, events, and the blank line.
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 5);
}

BOOST_AUTO_TEST_CASE(one_huge_name_does_not_widen_every_row) {
  // One 1 MiB name among 100 spans printed 107 MB before: every row was padded to it.
  prela::testing::traced t;
  {
    auto root = get_tracer().span("root");
    { auto huge = get_tracer().span(std::string(1 << 20, 'n')); }
    for (int i = 0; i < 98; ++i) auto s = get_tracer().span("step");
  }
  std::ostringstream out;
  print_trace(out, t.spans());
  const std::string text = out.str();
  BOOST_TEST(t.spans().size() == 100U);
  BOOST_TEST(text.size() < 100U * 400U);
  BOOST_TEST(text.find(std::string(119, 'n') + "…") != std::string::npos);
  BOOST_TEST(text.find(std::string(121, 'n')) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_very_deep_trace_prints_without_recursion_or_quadratic_indentation) {
  // 20 000 nested spans (a long-lived session binding each message to the previous one
  // nests like this): drawn iteratively, indentation stops growing at max_depth.
  prela::testing::traced t({.max_queue_size = 32768});
  {
    std::vector<span_handle> chain;
    chain.reserve(20000);
    for (int i = 0; i < 20000; ++i) chain.push_back(get_tracer().start_span("level"));
    while (!chain.empty()) chain.pop_back();
  }
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 20000U);
  std::ostringstream out;
  print_trace(out, spans, {.show_attributes = false});
  const std::string text = out.str();
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 20002);
  BOOST_TEST(text.find("[depth 19999] level [custom]") != std::string::npos);
  BOOST_TEST(text.size() < 20002U * 400U);  // bounded row width, not 3 bytes per level
}
