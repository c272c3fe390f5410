// prela quickstart: nested spans, a thread pool, baggage and an exception, printed as a
// tree by the console exporter.
#include <prela/exporters/console.hpp>
#include <prela/prela.hpp>

#include <chrono>
#include <future>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::string retrieve(const std::string& query) {
  auto span = prela::get_tracer().span("search_documents", prela::span_type::retrieval, {{"query", query}});
  std::this_thread::sleep_for(3ms);
  span->set_attribute("documents", 4);
  return "4 documents about " + query;
}

std::string call_model(const std::string& prompt) {
  auto span = prela::get_tracer().span("chat_completion", prela::span_type::llm, {{"model", "demo-model"}});
  // Baggage set by the caller travels with the context, even to other threads.
  span->set_attribute("user_id", prela::get_baggage("user_id").value_or("anonymous"));
  std::this_thread::sleep_for(2ms);
  span->add_event("first_token", {{"latency_ms", 2}});
  std::this_thread::sleep_for(4ms);
  span->set_attribute("tokens", static_cast<std::int64_t>(prompt.size()));
  return "answer";
}

void flaky_tool() {
  auto span = prela::get_tracer().span("flaky_tool", prela::span_type::tool);
  std::this_thread::sleep_for(1ms);
  // Recorded on the span as it unwinds: error status, and the exception's type and
  // message because this program links prela::throw_hook (without it: type "unknown").
  throw std::runtime_error("tool timed out");
}

}  // namespace

int main() {
  prela::init({.service_name = "quickstart", .exporters = {std::make_shared<prela::console_exporter>()}});

  {
    auto agent = prela::get_tracer().span("answer_question", prela::span_type::agent);
    prela::set_baggage("user_id", "user-42");

    // Work fanned out to threads: copy_context_to_thread carries the context, so the
    // workers' spans are children of answer_question.
    std::vector<std::future<std::string>> parts;
    for (const char* topic : {"coroutines", "tracing"}) {
      parts.push_back(
          std::async(std::launch::async, prela::copy_context_to_thread([topic] { return retrieve(topic); })));
    }
    std::string context;
    for (auto& p : parts) context += p.get() + "; ";

    call_model(context);
    try {
      flaky_tool();
    } catch (const std::exception& e) {
      agent->add_event("tool_failed", {{"reason", e.what()}});
    }
  }

  prela::shutdown();  // flushes: the tree above is printed now
  const auto stats = prela::get_tracer().stats();
  std::cout << "spans started: " << stats.started << ", exported: " << stats.exported
            << ", dropped: " << stats.dropped << "\n";
}
