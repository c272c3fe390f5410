// The spans the exporter benchmarks encode: an `llm` span with 10 attributes (strings,
// integers, doubles, a bool) and one event, as a model call records them.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "prela/prela.hpp"

namespace prela::bench {

inline std::vector<prela::span_data> typical_spans(std::size_t n) {
  auto res = std::make_shared<prela::resource>();
  res->service_name = "bench";
  res->attributes = {{"service.name", "bench"}, {"telemetry.sdk.name", "prela"}};
  std::vector<prela::span_data> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& s = out[i];
    s.name = "llm.chat";
    s.type = prela::span_type::llm;
    s.trace_id = prela::trace_id::generate();
    s.span_id = prela::span_id::generate();
    s.parent_span_id = prela::span_id::generate();
    s.start_time =
        std::chrono::nanoseconds(1'763'900'000'000'000'000LL + static_cast<std::int64_t>(i) * 1000);
    s.end_time = s.start_time + std::chrono::microseconds(1234);
    s.attributes = {{"gen_ai.request.model", "gpt-4o-mini"},
                    {"gen_ai.response.model", "gpt-4o-mini-2024-07-18"},
                    {"gen_ai.system", "openai"},
                    {"gen_ai.usage.input_tokens", 812},
                    {"gen_ai.usage.output_tokens", 96},
                    {"gen_ai.request.max_tokens", 1024},
                    {"temperature", 0.2},
                    {"top_p", 0.95},
                    {"cache.hit", false},
                    {"server.address", "api.example.com"}};
    s.events = {{"first_token", s.start_time + std::chrono::microseconds(300), {{"index", 0}}}};
    s.status = prela::span_status::ok;
    s.resource = res;
  }
  return out;
}

}  // namespace prela::bench
