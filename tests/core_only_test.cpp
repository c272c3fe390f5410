// A program that links prela::core alone (no exporters library): tracer_options::
// from_env() works and offers the core's console exporter; asking for an exporter of
// the exporters library (otlp, the specification's default, jsonl, perfetto) says
// which library it is in, and the program runs without it.
#define BOOST_TEST_MODULE core_only
#include <boost/test/unit_test.hpp>

#include <string>

#include "prela/exporter_registry.hpp"
#include "prela/tracer.hpp"
#include "test_support.hpp"

using prela::testing::env_vars;

BOOST_AUTO_TEST_CASE(only_the_cores_exporters_are_registered) {
  BOOST_TEST(prela::has_exporter_factory("console"));
  BOOST_TEST(!prela::has_exporter_factory("otlp"));
  BOOST_TEST(!prela::has_exporter_factory("jsonl"));
  BOOST_TEST(!prela::has_exporter_factory("perfetto"));
}

BOOST_AUTO_TEST_CASE(from_env_gives_the_console_exporter) {
  prela::testing::captured_warnings captured;
  const env_vars env({{"OTEL_TRACES_EXPORTER", "console"}});
  const auto o = prela::tracer_options::from_env();
  BOOST_TEST(o.exporters.size() == 1U);
  BOOST_TEST(captured.lines().empty());
}

BOOST_AUTO_TEST_CASE(the_default_otlp_says_where_it_is_and_the_program_runs_without_it) {
  prela::testing::captured_warnings captured;
  const env_vars env({});
  const auto o = prela::tracer_options::from_env();
  BOOST_TEST(o.exporters.empty());
  const auto lines = captured.lines();
  BOOST_REQUIRE(lines.size() == 1U);
  BOOST_TEST_MESSAGE(lines[0]);
  BOOST_TEST(lines[0].find("unset and defaults to otlp") != std::string::npos);
  BOOST_TEST(lines[0].find("prela::exporters") != std::string::npos);
  BOOST_TEST(lines[0].find("console, none") != std::string::npos);
  prela::init(o);
  { auto s = prela::get_tracer().span("runs"); }
  BOOST_TEST(prela::shutdown());
}

BOOST_AUTO_TEST_CASE(a_named_library_exporter_is_off_and_the_others_apply) {
  prela::testing::captured_warnings captured;
  const env_vars env({{"OTEL_TRACES_EXPORTER", "jsonl,console"}});
  const auto o = prela::tracer_options::from_env();
  BOOST_TEST(o.exporters.size() == 1U);
  const auto lines = captured.lines();
  BOOST_REQUIRE(lines.size() == 1U);
  BOOST_TEST(lines[0].find("OTEL_TRACES_EXPORTER names jsonl, which is in prela::exporters") !=
             std::string::npos);
}
