#define BOOST_TEST_MODULE stress
#include <boost/test/unit_test.hpp>

#include <mutex>
#include <thread>
#include <unordered_map>

#include "test_support.hpp"

using namespace prela;

namespace {

// What the link check needs of a span: 800k spans fit comfortably in memory.
struct span_link {
  trace_id trace;
  span_id parent;
  std::string name;
};
struct links {
  std::mutex mu;
  std::unordered_map<span_id, span_link> by_id;
};

}  // namespace

// 8 threads x 100k spans: nested scopes, handles ended out of order, forks run inline
// and on other threads, baggage; every parent link checked afterwards.
BOOST_AUTO_TEST_CASE(eight_threads_hundred_thousand_spans_each) {
  constexpr int threads = 8;
  constexpr int iterations = 20000;  // 5 spans each: 100k spans per thread
  auto recorded = std::make_shared<links>();
  auto recorder =
      std::make_shared<prela::testing::scripted_exporter>([recorded](std::span<const span_data> batch) {
        const std::lock_guard lock(recorded->mu);
        for (const auto& s : batch)
          recorded->by_id.emplace(s.span_id, span_link{s.trace_id, s.parent_span_id, s.name});
        return export_result::success;
      });
  init({.exporters = {recorder},
        .max_queue_size = 1 << 20,
        .max_export_batch_size = 4096,
        .schedule_delay = std::chrono::milliseconds(50)});
  const auto before = get_tracer().stats();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < iterations; ++i) {
        auto root = get_tracer().span("root", span_type::agent);
        set_baggage("thread", std::to_string(t));
        {
          auto child = get_tracer().span("child", span_type::tool);
          PRELA_THREAD_CHECK(current_span() == &*child);
          auto forked = copy_context_to_thread([&, expected = child->span_id()] {
            auto f = get_tracer().span("forked", span_type::llm);
            PRELA_THREAD_CHECK(f->parent_span_id() == expected);
            PRELA_THREAD_CHECK(get_baggage("thread") == std::to_string(t));
            set_baggage("thread", "changed in fork");
          });
          forked();
          PRELA_THREAD_CHECK(get_baggage("thread") == std::to_string(t));
          auto a = get_tracer().start_span("handle_a");
          auto b = get_tracer().start_span("handle_b");
          a.end();  // out of order
          PRELA_THREAD_CHECK(current_span() == &*b);
          b.end();
          PRELA_THREAD_CHECK(current_span() == &*child);
        }
        PRELA_THREAD_CHECK(current_span() == &*root);
      }
      PRELA_THREAD_CHECK(current_span() == nullptr);
    });
  }
  for (auto& th : pool) th.join();
  BOOST_REQUIRE(shutdown(std::chrono::seconds(120)));
  const auto after = get_tracer().stats();
  const std::uint64_t total = std::uint64_t{threads} * iterations * 5;
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(after.ended - before.ended == total);
  BOOST_TEST(after.dropped - before.dropped == 0U);
  BOOST_REQUIRE(recorded->by_id.size() == total);
  std::size_t missing_parent = 0;
  std::size_t cross_trace = 0;
  std::size_t roots = 0;
  for (const auto& [id, s] : recorded->by_id) {
    if (!s.parent.is_valid()) {
      ++roots;
      continue;
    }
    const auto it = recorded->by_id.find(s.parent);
    if (it == recorded->by_id.end()) {
      ++missing_parent;
    } else if (it->second.trace != s.trace) {
      ++cross_trace;
    }
  }
  BOOST_TEST(missing_parent == 0U);
  BOOST_TEST(cross_trace == 0U);
  BOOST_TEST(roots == std::size_t{threads} * iterations);
}
