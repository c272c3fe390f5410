// set_diagnostic_handler: where warnings go, what they look like, how repeats are held
// back. Warnings are caused the way users cause them: bad OTEL_* values, misuse.
#define BOOST_TEST_MODULE diagnostics
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace prela;

namespace {

/// A configuration warning carrying `value` (an invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE).
void warn_about(const std::string& value) {
  ::setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", value.c_str(), 1);
  (void)tracer_options::from_env();
  ::unsetenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
}

}  // namespace

BOOST_AUTO_TEST_CASE(warnings_go_to_the_handler_sanitized) {
  prela::testing::captured_warnings c;
  warn_about("12x\x1b[31m\nprela: forged");
  const auto lines = c.lines();
  BOOST_REQUIRE(lines.size() == 1U);
  BOOST_TEST_MESSAGE(lines[0]);
  BOOST_TEST(lines[0].find("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") != std::string::npos);
  BOOST_TEST(lines[0].find("12x\\x1B[31m\\nprela: forged") != std::string::npos);
  for (const char ch : lines[0]) BOOST_TEST_REQUIRE(static_cast<unsigned char>(ch) >= 0x20);
}

BOOST_AUTO_TEST_CASE(a_repeated_warning_is_held_back_distinct_ones_are_not) {
  prela::testing::captured_warnings c;
  for (int i = 0; i < 50; ++i) warn_about("repeated-value");
  warn_about("another-value");
  const auto lines = c.lines();
  BOOST_REQUIRE(lines.size() == 2U);
  BOOST_TEST(lines[0].find("repeated-value") != std::string::npos);
  BOOST_TEST(lines[1].find("another-value") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_throwing_or_warning_handler_changes_nothing_for_prela) {
  // The handler's exception is ignored; a warning it causes itself goes to stderr
  // instead of back into it (no recursion, no deadlock).
  int calls = 0;
  set_diagnostic_handler([&](std::string_view) {
    ++calls;
    warn_about("from-inside-the-handler");
    throw std::runtime_error("handler failed");
  });
  warn_about("first-throwing-value");
  warn_about("second-throwing-value");
  set_diagnostic_handler(nullptr);
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(an_empty_handler_restores_stderr) {
  prela::testing::captured_warnings c;
  set_diagnostic_handler(nullptr);
  warn_about("to-stderr-value");  // not captured
  BOOST_TEST(c.lines().empty());
}

BOOST_AUTO_TEST_CASE(misuse_reports_arrive_through_the_handler_from_any_thread) {
  // A span scope moved to another thread and ended there: a mismatch, reported once.
  prela::testing::captured_warnings c;
  prela::testing::traced t;
  auto scope = std::make_unique<span_scope>(get_tracer().span("moved away"));
  std::thread([&] { scope.reset(); }).join();
  const auto lines = c.lines();
  BOOST_REQUIRE(lines.size() == 1U);  // the first mismatch of this process
  BOOST_TEST(lines[0].find("span scope 'moved away' ended while another flow's context was current") !=
             std::string::npos);
  BOOST_TEST(get_tracer().stats().context_mismatches >= 1U);
}
