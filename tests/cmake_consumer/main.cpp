#include <prela/exporter_registry.hpp>
#include <prela/exporters/memory.hpp>
#include <prela/prela.hpp>

#include <stdexcept>
#include <string>
#include <variant>

int main() {
  auto memory = std::make_shared<prela::memory_exporter>();
  prela::init({.service_name = "consumer", .exporters = {memory}});
  {
    auto outer = prela::get_tracer().span("outer", prela::span_type::agent);
    auto inner = prela::get_tracer().span("inner", prela::span_type::tool);
  }
  try {  // prela::throw_hook, linked from the package, names the exception
    auto failing = prela::get_tracer().span("failing");
    throw std::out_of_range("x");
  } catch (const std::out_of_range&) {
  }
  prela::shutdown();
  const auto spans = memory->spans();
  const prela::attribute_value* type = spans.size() == 3 ? spans[2].attribute("error.type") : nullptr;
  const bool named = type != nullptr && std::get<std::string>(*type) == "std::out_of_range";
  const bool registry_as_linked = prela::has_exporter_factory("console") &&
                                  prela::has_exporter_factory("otlp") == (CONSUMER_HAS_EXPORTERS != 0);
  return spans.size() == 3 && spans[0].parent_span_id == spans[1].span_id && named && registry_as_linked ? 0
                                                                                                         : 1;
}
