#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "prela/exporters/console.hpp"
#include "prela/tracer.hpp"

using namespace prela;

namespace {
// Sets environment variables for one test and removes them after.
struct env_vars {
  std::vector<std::string> names;
  env_vars(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* n : {"OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
                          "OTEL_TRACES_EXPORTER", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT",
                          "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                          "OTEL_RESOURCE_ATTRIBUTES"}) {
      unsetenv(n);
    }
    for (auto [k, v] : vars) {
      setenv(k, v, 1);
      names.emplace_back(k);
    }
  }
  ~env_vars() {
    for (const auto& n : names) unsetenv(n.c_str());
  }
};
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
  env_vars env({{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource"}});
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

BOOST_AUTO_TEST_CASE(invalid_sampler_argument_uses_the_default_ratio) {
  env_vars env({{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_TRACES_SAMPLER", "traceidratio"},
                {"OTEL_TRACES_SAMPLER_ARG", "2.5"}});
  BOOST_TEST(tracer_options::from_env().sampler->description() == "probability(1)");
}

BOOST_AUTO_TEST_CASE(batch_larger_than_queue_is_clamped) {
  env_vars env({{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_BSP_MAX_QUEUE_SIZE", "64"},
                {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"}});
  const auto o = tracer_options::from_env();
  BOOST_TEST(o.max_export_batch_size == 64U);
}
