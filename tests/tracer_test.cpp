#define BOOST_TEST_MODULE tracer
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace prela;
using prela::testing::find;
using prela::testing::traced;

// Runs first: nothing has called init() in this process yet.
BOOST_AUTO_TEST_CASE(before_init_spans_nest_propagate_and_are_discarded) {
  const auto before = get_tracer().stats();
  {
    auto a = get_tracer().span("a", span_type::agent);
    auto b = get_tracer().span("b");
    BOOST_TEST(a->is_sampled());  // the default sampler's decision, propagated downstream
    BOOST_TEST((b->parent_span_id() == a->span_id()));
    BOOST_TEST((current_trace_id() == a->trace_id()));
    b->set_attribute("ignored", 1);  // not recorded, not an error
  }
  const auto after = get_tracer().stats();
  BOOST_TEST(after.started - before.started == 2U);
  BOOST_TEST(after.ended - before.ended == 2U);
  BOOST_TEST(after.dropped == before.dropped);
  BOOST_TEST(after.mutations_after_end == before.mutations_after_end);
}

BOOST_AUTO_TEST_CASE(init_validates_its_options) {
  BOOST_CHECK_THROW(init({.max_queue_size = 0}), std::invalid_argument);
  BOOST_CHECK_THROW(init({.max_export_batch_size = 0}), std::invalid_argument);
  BOOST_CHECK_THROW(init({.schedule_delay = std::chrono::milliseconds(-1)}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(stats_count_every_span) {
  traced t;
  const auto before = get_tracer().stats();
  for (int i = 0; i < 10; ++i) {
    auto s = get_tracer().span("s");
  }
  t.spans();
  const auto after = get_tracer().stats();
  BOOST_TEST(after.started - before.started == 10U);
  BOOST_TEST(after.ended - before.ended == 10U);
  BOOST_TEST(after.exported - before.exported == 10U);
  BOOST_TEST(after.dropped == before.dropped);
}

BOOST_AUTO_TEST_CASE(init_and_shutdown_hundreds_of_times) {
  for (int round = 0; round < 300; ++round) {
    auto memory = std::make_shared<memory_exporter>();
    init({.service_name = "round" + std::to_string(round), .exporters = {memory}});
    { auto s = get_tracer().span("r"); }
    BOOST_REQUIRE(shutdown(std::chrono::seconds(5)));
    const auto spans = memory->spans();
    BOOST_REQUIRE(spans.size() == 1U);
    BOOST_REQUIRE(spans[0].resource->service_name == "round" + std::to_string(round));
  }
}

using prela::testing::heap_in_use;

// A replaced configuration is freed once no thread reads it: cycles do not add up.
BOOST_AUTO_TEST_CASE(init_and_shutdown_cycles_do_not_grow_memory) {
  const auto cycle = [] {
    init({.service_name = "cycle", .exporters = {std::make_shared<memory_exporter>()}});
    { auto s = get_tracer().span("r"); }
    BOOST_REQUIRE(shutdown(std::chrono::seconds(5)));
  };
  // A thread that traced once and then idles keeps one replaced configuration alive.
  std::thread([] { auto s = get_tracer().span("idle thread"); }).join();
  std::atomic<bool> stop{false};
  std::thread idle([&] {
    { auto s = get_tracer().span("then idle"); }
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  for (int i = 0; i < 50; ++i) cycle();
  const std::size_t before = heap_in_use();
  for (int i = 0; i < 2000; ++i) cycle();
  const std::size_t after = heap_in_use();
  stop = true;
  idle.join();
  // Kept configurations cost about 2 KB each: 2000 cycles would add about 4 MB.
  BOOST_TEST(after < before + 256 * 1024, "heap grew from " << before << " to " << after << " bytes");
}

// Spans start and end on several threads while the tracer is initialised and shut down
// over and over: no span reads a freed configuration (run under the sanitizers), every
// span is counted, and a span ending under a later configuration is a counted drop.
BOOST_AUTO_TEST_CASE(spans_on_other_threads_while_the_configuration_changes) {
  const auto before = get_tracer().stats();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> spans{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto outer = get_tracer().start_span("outer");
        { auto inner = get_tracer().span("inner"); }
        outer.end();
        n += 2;
      }
      spans += n;
    });
  }
  for (int round = 0; round < 200; ++round) {
    init({.exporters = {std::make_shared<memory_exporter>()}});
    std::this_thread::yield();
    BOOST_REQUIRE(shutdown(std::chrono::seconds(5)));
  }
  stop = true;
  for (auto& w : workers) w.join();
  const auto after = get_tracer().stats();
  BOOST_TEST(after.started - before.started == spans.load());
  BOOST_TEST(after.ended - before.ended == spans.load());
  BOOST_TEST(after.exported + after.dropped - before.exported - before.dropped <= spans.load());
}

BOOST_AUTO_TEST_CASE(shutdown_and_flush_do_not_wait_for_the_schedule_delay) {
  auto memory = std::make_shared<memory_exporter>();
  init({.exporters = {memory}, .schedule_delay = std::chrono::hours(1)});
  { auto s = get_tracer().span("x"); }
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(force_flush(std::chrono::seconds(10)));
  BOOST_TEST(memory->spans().size() == 1U);
  { auto s = get_tracer().span("y"); }
  BOOST_TEST(shutdown(std::chrono::seconds(10)));
  BOOST_TEST(memory->spans().size() == 2U);
  // Correctness, not a timing target: an hour-long delay must not have been waited for.
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::minutes(1)));
}

BOOST_AUTO_TEST_CASE(a_span_ending_after_its_root_is_exported) {
  traced t;
  std::optional<span_handle> straggler;
  {
    auto root = get_tracer().span("root");
    straggler.emplace(get_tracer().start_span("straggler"));
  }
  straggler->end();
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 2U);
  BOOST_TEST((find(spans, "straggler")->parent_span_id == find(spans, "root")->span_id));
}

BOOST_AUTO_TEST_CASE(the_default_sampler_follows_the_parent) {
  traced t({.sampler = parent_based(always_off())});
  {
    auto root = get_tracer().span("root");
    BOOST_TEST(!root->is_sampled());
    auto child = get_tracer().span("child");
    BOOST_TEST(!child->is_sampled());
    BOOST_TEST((child->parent_span_id() == root->span_id()));  // unsampled spans still nest
  }
  BOOST_TEST(t.spans().empty());
}

BOOST_AUTO_TEST_CASE(continuing_a_remote_trace) {
  traced t;
  remote_context remote;
  remote.trace_id = trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").value();
  remote.span_id = span_id::from_hex("00f067aa0ba902b7").value();
  remote.sampled = true;
  remote.trace_state = "vendor=abc";
  remote.baggage = {{"user_id", "u7"}};
  {
    auto server = get_tracer().span("handle", span_type::agent, remote);
    BOOST_TEST((server->trace_id() == remote.trace_id));
    BOOST_TEST((server->parent_span_id() == remote.span_id));
    BOOST_TEST(get_baggage("user_id").value_or("") == "u7");
    auto inner = get_tracer().span("inner");
    BOOST_TEST(inner->trace_state() == "vendor=abc");
  }
  remote.sampled = false;
  {
    auto unsampled = get_tracer().span("unsampled", span_type::agent, remote);
    BOOST_TEST(!unsampled->is_sampled());  // parent_based honours the remote flag
  }
  {
    auto fresh = get_tracer().span("invalid_remote", span_type::agent, remote_context{});
    BOOST_TEST(!fresh->parent_span_id().is_valid());
    BOOST_TEST((fresh->trace_id() != remote.trace_id));
  }
  const auto spans = t.spans();
  BOOST_TEST(find(spans, "handle")->parent_is_remote);
  BOOST_TEST(find(spans, "handle")->trace_state == "vendor=abc");
  BOOST_TEST(!find(spans, "inner")->parent_is_remote);
  BOOST_TEST(find(spans, "unsampled") == nullptr);
}

// A remote context passed as an rvalue (tracer.span(name, type, extract(h))) gives its
// baggage storage to a context that has none, and merges like an lvalue into one that
// has some. Either way the span continues the trace and the baggage reads the same.
BOOST_AUTO_TEST_CASE(continuing_from_an_rvalue_remote_context_takes_its_baggage_over) {
  traced t;
  const std::map<std::string, std::string> headers = {
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {"baggage", "user_id=u7,tenant=acme"}};
  {
    auto request = new_trace_context();
    remote_context remote = extract(headers);
    const void* storage = detail::baggage_access::entries(remote.baggage).get();
    BOOST_REQUIRE(storage != nullptr);
    auto server = get_tracer().span("taken", span_type::agent, std::move(remote));
    BOOST_TEST((server->parent_span_id() == span_id::from_hex("00f067aa0ba902b7").value()));
    BOOST_TEST(static_cast<const void*>(get_trace_context().baggage_entries()) == storage);
    BOOST_TEST(remote.baggage.empty());  // NOLINT(bugprone-use-after-move): moved from, as promised
    BOOST_TEST(get_baggage("tenant").value_or("") == "acme");
  }
  {
    auto request = new_trace_context({.baggage = {{"region", "eu"}, {"tenant", "local"}}});
    remote_context remote = extract(headers);
    const prela::baggage kept = remote.baggage;
    auto server = get_tracer().start_span("merged", span_type::agent, std::move(remote));
    BOOST_TEST(get_baggage("region").value_or("") == "eu");
    BOOST_TEST(get_baggage("tenant").value_or("") == "acme");  // the remote value wins
    BOOST_TEST(get_baggage("user_id").value_or("") == "u7");
    BOOST_TEST(kept.size() == 2U);  // the shared storage was left as it was
    BOOST_TEST(kept.get("tenant").value_or("") == "acme");
  }
  const auto spans = t.spans();
  BOOST_REQUIRE(find(spans, "taken") != nullptr);
  BOOST_REQUIRE(find(spans, "merged") != nullptr);
  BOOST_TEST(find(spans, "taken")->parent_is_remote);
  BOOST_TEST(find(spans, "merged")->parent_is_remote);
}

BOOST_AUTO_TEST_CASE(exporters_are_flushed_shut_down_once_and_never_called_concurrently) {
  auto rec = std::make_shared<prela::testing::scripted_exporter>([](auto) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // long enough to overlap if called at once
    return export_result::success;
  });
  init({.exporters = {rec}, .max_export_batch_size = 8});
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([] {
      for (int j = 0; j < 200; ++j) auto s = get_tracer().span("s");
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(force_flush());
  BOOST_TEST(rec->flushes >= 1);
  BOOST_TEST(shutdown());
  BOOST_TEST(shutdown());  // idempotent
  BOOST_TEST(rec->shutdowns == 1);
  BOOST_TEST(rec->max_concurrent == 1);
  BOOST_TEST(rec->exports >= 100);  // 800 spans in batches of at most 8
}
