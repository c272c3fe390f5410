#include <prela/exporters/memory.hpp>
#include <prela/prela.hpp>

int main() {
  auto memory = std::make_shared<prela::memory_exporter>();
  prela::init({.service_name = "consumer", .exporters = {memory}});
  {
    auto outer = prela::get_tracer().span("outer", prela::span_type::agent);
    auto inner = prela::get_tracer().span("inner", prela::span_type::tool);
  }
  prela::shutdown();
  const auto spans = memory->spans();
  return spans.size() == 2 && spans[0].parent_span_id == spans[1].span_id ? 0 : 1;
}
