#define BOOST_TEST_MODULE stress
#include <boost/test/unit_test.hpp>

#include <mutex>
#include <thread>
#include <unordered_map>

#include "test_support.hpp"

using namespace prela;

namespace {

// Keeps only what the link check needs, so 800k spans fit comfortably in memory.
struct link_recorder final : exporter {
  struct link {
    trace_id trace;
    span_id parent;
    std::string name;
  };
  std::mutex mu;
  std::unordered_map<span_id, link> spans;
  export_result export_spans(std::span<const span_data> batch) override {
    std::lock_guard lock(mu);
    for (const auto& s : batch) spans.emplace(s.span_id, link{s.trace_id, s.parent_span_id, s.name});
    return export_result::success;
  }
};

}  // namespace

// 8 threads x 100k spans: nested scopes, handles ended out of order, forks run inline
// and on other threads, baggage; every parent link checked afterwards.
BOOST_AUTO_TEST_CASE(eight_threads_hundred_thousand_spans_each) {
  constexpr int threads = 8;
  constexpr int iterations = 20000;  // 5 spans each: 100k spans per thread
  auto recorder = std::make_shared<link_recorder>();
  init({.exporters = {recorder}, .max_queue_size = 1 << 20, .max_export_batch_size = 4096,
        .schedule_delay = std::chrono::milliseconds(50)});
  const auto before = get_tracer().stats();
  std::atomic<int> violations{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < iterations; ++i) {
        auto root = get_tracer().span("root", span_type::agent);
        set_baggage("thread", std::to_string(t));
        {
          auto child = get_tracer().span("child", span_type::tool);
          if (current_span() != &*child) ++violations;
          auto forked = copy_context_to_thread([&, expected = child->span_id()] {
            auto f = get_tracer().span("forked", span_type::llm);
            if (f->parent_span_id() != expected) ++violations;
            if (get_baggage("thread") != std::to_string(t)) ++violations;
            set_baggage("thread", "changed in fork");
          });
          forked();
          if (get_baggage("thread") != std::to_string(t)) ++violations;
          auto a = get_tracer().start_span("handle_a");
          auto b = get_tracer().start_span("handle_b");
          a.end();  // out of order
          if (current_span() != &*b) ++violations;
          b.end();
          if (current_span() != &*child) ++violations;
        }
        if (current_span() != &*root) ++violations;
      }
      if (current_span() != nullptr) ++violations;
    });
  }
  for (auto& th : pool) th.join();
  BOOST_REQUIRE(shutdown(std::chrono::seconds(120)));
  const auto after = get_tracer().stats();
  const std::uint64_t total = std::uint64_t{threads} * iterations * 5;
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(after.ended - before.ended == total);
  BOOST_TEST(after.dropped - before.dropped == 0U);
  BOOST_REQUIRE(recorder->spans.size() == total);
  std::size_t missing_parent = 0;
  std::size_t cross_trace = 0;
  std::size_t roots = 0;
  for (const auto& [id, s] : recorder->spans) {
    if (!s.parent.is_valid()) {
      ++roots;
      continue;
    }
    const auto it = recorder->spans.find(s.parent);
    if (it == recorder->spans.end()) {
      ++missing_parent;
    } else if (it->second.trace != s.trace) {
      ++cross_trace;
    }
  }
  BOOST_TEST(missing_parent == 0U);
  BOOST_TEST(cross_trace == 0U);
  BOOST_TEST(roots == std::size_t{threads} * iterations);
}
