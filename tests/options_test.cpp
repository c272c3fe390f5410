#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "prela/exporter_registry.hpp"
#include "prela/exporters/console.hpp"
#include "prela/exporters/jsonl.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "prela/exporters/perfetto.hpp"
#include "prela/tracer.hpp"
#include "test_support.hpp"

using namespace prela;
using prela::testing::env_vars;

namespace {
// Captures what is written to stderr (fd 2) while it lives.
class stderr_capture {
 public:
  stderr_capture()
      : path_(std::filesystem::temp_directory_path() / ("prela-stderr-" + std::to_string(getpid()))) {
    std::fflush(stderr);
    saved_ = dup(2);
    std::FILE* f = std::fopen(path_.c_str(), "w");
    dup2(fileno(f), 2);
    std::fclose(f);
  }
  ~stderr_capture() {
    restore();
    std::filesystem::remove(path_);
  }
  std::string text() {
    restore();
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  std::filesystem::path path_;
  int saved_ = -1;
};

template <class T>
T* find_exporter(const tracer_options& o) {
  for (const auto& e : o.exporters) {
    if (auto* p = dynamic_cast<T*>(e.get())) return p;
  }
  return nullptr;
}
}  // namespace

BOOST_AUTO_TEST_CASE(defaults_match_the_opentelemetry_specification) {
  env_vars env({{"OTEL_TRACES_EXPORTER", "none"}});
  const auto o = tracer_options::from_env();
  BOOST_TEST(o.service_name.empty());
  BOOST_TEST(o.sampler->description() == "parent_based(always_on)");
  BOOST_TEST(o.exporters.empty());
  BOOST_TEST(o.max_queue_size == 2048U);
  BOOST_TEST(o.max_export_batch_size == 512U);
  BOOST_TEST(o.schedule_delay.count() == 5000);
  BOOST_TEST(o.export_timeout.count() == 30000);
}

BOOST_AUTO_TEST_CASE(values_are_read) {
  env_vars env({{"OTEL_SERVICE_NAME", "checkout"},
                {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
                {"OTEL_TRACES_EXPORTER", "console"},
                {"OTEL_BSP_SCHEDULE_DELAY", "250"},
                {"OTEL_BSP_EXPORT_TIMEOUT", "1000"},
                {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
                {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"},
                {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=a%20b"}});
  const auto o = tracer_options::from_env();
  BOOST_TEST(o.service_name == "checkout");
  BOOST_TEST(o.sampler->description() == "parent_based(probability(0.25))");
  BOOST_REQUIRE(o.exporters.size() == 1U);
  BOOST_TEST(dynamic_cast<console_exporter*>(o.exporters[0].get()) != nullptr);
  BOOST_TEST(o.schedule_delay.count() == 250);
  BOOST_TEST(o.export_timeout.count() == 1000);
  BOOST_TEST(o.max_queue_size == 100U);
  BOOST_TEST(o.max_export_batch_size == 10U);
  BOOST_REQUIRE(o.resource_attributes.size() == 2U);
  BOOST_TEST(to_string(o.resource_attributes[1].value) == "a b");
}

BOOST_AUTO_TEST_CASE(service_name_falls_back_to_resource_attributes) {
  env_vars env(
      {{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource"}});
  BOOST_TEST(tracer_options::from_env().service_name == "from-resource");
}

BOOST_AUTO_TEST_CASE(invalid_values_fall_back_to_defaults) {
  env_vars env({{"OTEL_TRACES_SAMPLER", "sometimes"},
                {"OTEL_TRACES_EXPORTER", "carrier-pigeon,console"},
                {"OTEL_BSP_SCHEDULE_DELAY", "soon"},
                {"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
                {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-3"}});
  const auto o = tracer_options::from_env();
  BOOST_TEST(o.sampler->description() == "parent_based(always_on)");
  BOOST_TEST(o.exporters.size() == 1U);  // the unknown one skipped, console kept
  BOOST_TEST(o.schedule_delay.count() == 5000);
  BOOST_TEST(o.max_queue_size == 2048U);
  BOOST_TEST(o.max_export_batch_size == 512U);
}

// A program that links prela::prela has every built-in exporter (core_only_test covers
// one with the core alone), and an unknown name is answered with the known ones.
BOOST_AUTO_TEST_CASE(every_builtin_exporter_is_registered_and_unknown_names_list_them) {
  for (const char* name : {"console", "otlp", "jsonl", "perfetto"}) BOOST_TEST(has_exporter_factory(name));
  prela::testing::captured_warnings captured;
  // A name no other test warns about: a repeated warning is held back for a while.
  env_vars env({{"OTEL_TRACES_EXPORTER", "smoke-signals"}});
  BOOST_TEST(tracer_options::from_env().exporters.empty());
  const auto lines = captured.lines();
  BOOST_REQUIRE(lines.size() == 1U);
  BOOST_TEST(lines[0].find("known: console, jsonl, otlp, perfetto, none") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(values_beyond_their_range_warn_with_the_range_and_use_the_default) {
  // Each of these was accepted before, then made init() terminate (a queue of 2^64
  // records), the batch thread spin (a schedule delay that overflows the clock) or
  // every export fail at once (a timeout that overflows the deadline).
  const std::pair<const char*, const char*> cases[] = {
      {"OTEL_BSP_MAX_QUEUE_SIZE", "18446744073709551615"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "2147483648000"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "99999999999999999999999"},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16777217"},
      {"OTEL_BSP_SCHEDULE_DELAY", "9223372036854775807"},
      {"OTEL_BSP_EXPORT_TIMEOUT", "86400001"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "9223372036854775807"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "0"},
      {"OTEL_BSP_SCHEDULE_DELAY", "-1"},
  };
  for (const auto& [var, value] : cases) {
    BOOST_TEST_CONTEXT(var << "=" << value) {
      env_vars env({{var, value}});
      stderr_capture err;
      const auto o = tracer_options::from_env();
      const std::string text = err.text();
      BOOST_TEST(text.find(var) != std::string::npos);
      BOOST_TEST(text.find("(valid: ") != std::string::npos);
      BOOST_TEST(o.max_queue_size == 2048U);
      BOOST_TEST(o.max_export_batch_size == 512U);
      BOOST_TEST(o.schedule_delay.count() == 5000);
      BOOST_TEST(o.export_timeout.count() == 30000);
      auto* otlp = find_exporter<otlp_http_exporter>(o);
      BOOST_REQUIRE(otlp != nullptr);
      BOOST_TEST(otlp->options().timeout.count() == 10000);
    }
  }
  // The largest values in range are taken as given.
  env_vars env({{"OTEL_BSP_MAX_QUEUE_SIZE", "16777216"}, {"OTEL_BSP_SCHEDULE_DELAY", "86400000"}});
  const auto o = tracer_options::from_env();
  BOOST_TEST(o.max_queue_size == limits::max_queue_size);
  BOOST_TEST(o.schedule_delay == limits::max_duration);
}

BOOST_AUTO_TEST_CASE(init_refuses_absurd_limits_with_invalid_argument) {
  BOOST_CHECK_THROW(init({.max_queue_size = std::size_t{1} << 40}), std::invalid_argument);
  BOOST_CHECK_THROW(init({.max_export_batch_size = limits::max_queue_size + 1}), std::invalid_argument);
  BOOST_CHECK_THROW(init({.schedule_delay = std::chrono::milliseconds::max()}), std::invalid_argument);
  BOOST_CHECK_THROW(init({.export_timeout = limits::max_duration + std::chrono::milliseconds(1)}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(otlp_http_exporter({.timeout = std::chrono::milliseconds::max()}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(invalid_sampler_argument_uses_the_default_ratio) {
  env_vars env({{"OTEL_TRACES_EXPORTER", "none"},
                {"OTEL_TRACES_SAMPLER", "traceidratio"},
                {"OTEL_TRACES_SAMPLER_ARG", "2.5"}});
  BOOST_TEST(tracer_options::from_env().sampler->description() == "probability(1)");
}

BOOST_AUTO_TEST_CASE(batch_larger_than_queue_is_clamped) {
  env_vars env({{"OTEL_TRACES_EXPORTER", "none"},
                {"OTEL_BSP_MAX_QUEUE_SIZE", "64"},
                {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"}});
  const auto o = tracer_options::from_env();
  BOOST_TEST(o.max_export_batch_size == 64U);
}

BOOST_AUTO_TEST_CASE(otlp_is_the_default_exporter_with_the_specs_defaults) {
  env_vars env({});
  const auto o = tracer_options::from_env();
  BOOST_REQUIRE(o.exporters.size() == 1U);
  auto* otlp = find_exporter<otlp_http_exporter>(o);
  BOOST_REQUIRE(otlp != nullptr);
  BOOST_TEST(otlp->options().endpoint == "http://localhost:4318/v1/traces");
  BOOST_TEST(otlp->options().timeout.count() == 10000);
  BOOST_TEST(otlp->options().headers.empty());
  BOOST_TEST((otlp->options().protocol == otlp_protocol::http_protobuf));  // the OpenTelemetry default
  BOOST_TEST((otlp->options().compression == otlp_compression::none));
}

BOOST_AUTO_TEST_CASE(otlp_variables_are_read) {
  env_vars env({{"OTEL_TRACES_EXPORTER", "otlp"},
                {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"},
                {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value, tenant = acme"},
                {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                {"OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON "},
                {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}});
  const auto o = tracer_options::from_env();
  auto* otlp = find_exporter<otlp_http_exporter>(o);
  BOOST_REQUIRE(otlp != nullptr);
  BOOST_TEST(otlp->options().endpoint == "http://collector:4318/v1/traces");  // base: path appended
  BOOST_TEST(otlp->options().headers.at("api-key") == "secret value");
  BOOST_TEST(otlp->options().headers.at("tenant") == "acme");
  BOOST_TEST(otlp->options().timeout.count() == 2500);
  BOOST_TEST((otlp->options().protocol == otlp_protocol::http_json));
  BOOST_TEST((otlp->options().compression == otlp_compression::gzip));
}

BOOST_AUTO_TEST_CASE(tls_variables_and_a_tls_file_that_cannot_be_used) {
  {
    env_vars env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"},
                  {"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ssl/certs/ca-certificates.crt"}});
    const auto o = tracer_options::from_env();
    auto* otlp = find_exporter<otlp_http_exporter>(o);
    BOOST_REQUIRE(otlp != nullptr);
    BOOST_TEST(otlp->options().endpoint == "https://collector:4318/v1/traces");
    BOOST_TEST(otlp->options().certificate_file == "/etc/ssl/certs/ca-certificates.crt");
  }
  {
    // A CA file that cannot be read: OTLP export is off, never sent unverified or in plain text.
    env_vars env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"},
                  {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/nonexistent/ca.pem"},
                  {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/nonexistent/client.pem"},
                  {"OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/client.key"}});
    stderr_capture err;
    const auto o = tracer_options::from_env();
    const std::string text = err.text();
    BOOST_TEST(find_exporter<otlp_http_exporter>(o) == nullptr);
    BOOST_TEST(text.find("/nonexistent/ca.pem") != std::string::npos);
    BOOST_TEST(text.find("OTLP export is off") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(protocol_and_compression_variables) {
  {
    env_vars env({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                  {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"},
                  {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                  {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"}});
    const auto o = tracer_options::from_env();
    auto* otlp = find_exporter<otlp_http_exporter>(o);
    BOOST_REQUIRE(otlp != nullptr);
    BOOST_TEST((otlp->options().protocol == otlp_protocol::http_protobuf));  // the traces variable wins
    BOOST_TEST((otlp->options().compression == otlp_compression::none));
  }
  {
    env_vars env(
        {{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"}, {"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"}});
    stderr_capture err;
    const auto o = tracer_options::from_env();
    auto* otlp = find_exporter<otlp_http_exporter>(o);
    const std::string text = err.text();
    BOOST_REQUIRE(otlp != nullptr);
    BOOST_TEST((otlp->options().protocol == otlp_protocol::http_protobuf));
    BOOST_TEST((otlp->options().compression == otlp_compression::none));
    BOOST_TEST(text.find("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported") != std::string::npos);
    BOOST_TEST(text.find("OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\"") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(signal_specific_otlp_variables_win_and_are_used_as_is) {
  env_vars env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:4318"},
                {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom/path"},
                {"OTEL_EXPORTER_OTLP_HEADERS", "a=general"},
                {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=traces"},
                {"OTEL_EXPORTER_OTLP_TIMEOUT", "1000"},
                {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3000"}});
  const auto o = tracer_options::from_env();
  auto* otlp = find_exporter<otlp_http_exporter>(o);
  BOOST_REQUIRE(otlp != nullptr);
  BOOST_TEST(otlp->options().endpoint == "http://traces:9999/custom/path");
  BOOST_TEST(otlp->options().headers.at("a") == "traces");
  BOOST_TEST(otlp->options().timeout.count() == 3000);
}

BOOST_AUTO_TEST_CASE(invalid_otlp_values_warn_and_use_the_default) {
  env_vars env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318"},
                {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"},
                {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                {"OTEL_EXPORTER_OTLP_HEADERS", "novalue,ok=1"}});
  stderr_capture err;
  const auto o = tracer_options::from_env();
  const std::string text = err.text();
  auto* otlp = find_exporter<otlp_http_exporter>(o);
  BOOST_REQUIRE(otlp != nullptr);
  BOOST_TEST(otlp->options().endpoint == "http://localhost:4318/v1/traces");
  BOOST_TEST(otlp->options().timeout.count() == 10000);
  BOOST_TEST(otlp->options().headers.size() == 1U);
  for (const char* var : {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TIMEOUT",
                          "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS"}) {
    BOOST_TEST_CONTEXT(var) { BOOST_TEST(text.find(var) != std::string::npos); }
  }
  BOOST_TEST(text.find("expected an http:// or https:// URL") != std::string::npos);  // says why
}

BOOST_AUTO_TEST_CASE(a_bad_header_entry_is_skipped_with_a_warning_naming_it) {
  // One entry that decodes to a newline, one bad %-escape, one without '=': each is
  // named in a warning that blames the headers variable; the good entries and OTLP
  // export stay (one bad entry used to turn export off and blame the endpoint).
  env_vars env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base/?tenant=a#frag"},
                {"OTEL_EXPORTER_OTLP_HEADERS", "x-bad=a%0Ab,k=%ZZ,api-key=s3cret,bad name=1,good=%41"}});
  stderr_capture err;
  const auto o = tracer_options::from_env();
  const std::string text = err.text();
  BOOST_TEST_MESSAGE(text);
  auto* otlp = find_exporter<otlp_http_exporter>(o);
  BOOST_REQUIRE(otlp != nullptr);
  BOOST_TEST(otlp->options().endpoint == "http://collector:4318/base/v1/traces?tenant=a#frag");
  BOOST_TEST(otlp->options().headers.size() == 2U);
  BOOST_TEST(otlp->options().headers.at("api-key") == "s3cret");
  BOOST_TEST(otlp->options().headers.at("good") == "A");
  BOOST_TEST(text.find("OTEL_EXPORTER_OTLP_ENDPOINT") == std::string::npos);
  BOOST_TEST(text.find("OTLP export is off") == std::string::npos);
  for (const char* entry :
       {"\"x-bad=…\" of OTEL_EXPORTER_OTLP_HEADERS", "\"k=…\" of OTEL_EXPORTER_OTLP_HEADERS",
        "\"bad name=…\" of OTEL_EXPORTER_OTLP_HEADERS"}) {
    BOOST_TEST_CONTEXT(entry) { BOOST_TEST(text.find(entry) != std::string::npos); }
  }
  BOOST_TEST(text.find("s3cret") == std::string::npos);  // values are never shown: they may be secrets
  BOOST_TEST(text.find("%ZZ") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(several_exporters_with_their_path_variables) {
  const auto dir = std::filesystem::temp_directory_path() / ("prela-env-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string jsonl = (dir / "s.jsonl").string();
  const std::string perfetto = (dir / "t.json").string();
  {
    env_vars env({{"OTEL_TRACES_EXPORTER", "otlp, jsonl ,perfetto,console"},
                  {"PRELA_JSONL_PATH", jsonl.c_str()},
                  {"PRELA_PERFETTO_PATH", perfetto.c_str()}});
    const auto o = tracer_options::from_env();
    BOOST_TEST(o.exporters.size() == 4U);
    BOOST_TEST(find_exporter<jsonl_exporter>(o)->path() == jsonl);
    BOOST_TEST(find_exporter<perfetto_exporter>(o)->path() == perfetto);
    BOOST_TEST(find_exporter<console_exporter>(o) != nullptr);
  }
  {
    env_vars env(
        {{"OTEL_TRACES_EXPORTER", "jsonl,console"}, {"PRELA_JSONL_PATH", "/nonexistent-dir/s.jsonl"}});
    stderr_capture err;
    const auto o = tracer_options::from_env();
    const std::string text = err.text();
    BOOST_TEST(o.exporters.size() == 1U);  // jsonl could not open its file: left out, said so
    BOOST_TEST(text.find("PRELA_JSONL_PATH") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
