#define BOOST_TEST_MODULE batch_processor
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "test_support.hpp"

using namespace prela;

namespace {

using prela::testing::scripted_exporter;

// An exporter stuck inside export_spans until released: a hung backend.
std::shared_ptr<scripted_exporter> hung_exporter() {
  auto e = std::make_shared<scripted_exporter>();
  e->hold();
  return e;
}

void make_spans(int n) {
  for (int i = 0; i < n; ++i) auto s = get_tracer().span("s");
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_saturated_pipeline_drops_and_counts_exactly) {
  // Capacity while the exporter is stuck: 10 spans inside it, 10 in its lane's backlog,
  // 10 being handed over by the collector,
  // 10 in the queue. Everything else must be dropped, counted, and never block.
  auto blocked = hung_exporter();
  init({.exporters = {blocked},
        .max_queue_size = 10,
        .max_export_batch_size = 10,
        .schedule_delay = std::chrono::hours(1)});
  const auto before = get_tracer().stats();
  make_spans(10);
  while (blocked->exports == 0) std::this_thread::yield();
  make_spans(100);
  const auto mid = get_tracer().stats();
  BOOST_TEST(mid.ended - before.ended == 110U);
  BOOST_TEST(mid.dropped - before.dropped >= 70U);  // 10 more may be in the collector's hands
  blocked->release();
  BOOST_TEST(shutdown(std::chrono::seconds(10)));
  const auto after = get_tracer().stats();
  const auto exported = after.exported - before.exported;
  const auto dropped = after.dropped - before.dropped;
  BOOST_TEST(exported + dropped == 110U);  // nothing silently lost
  BOOST_TEST(exported >= 10U);
  BOOST_TEST(exported <= 40U);
  BOOST_TEST(blocked->received.load() == exported);
}

BOOST_AUTO_TEST_CASE(a_hung_exporter_never_blocks_the_application_or_the_others) {
  auto hung = hung_exporter();
  auto healthy = std::make_shared<memory_exporter>();
  init({.exporters = {hung, healthy},
        .max_queue_size = 512,
        .max_export_batch_size = 16,
        .schedule_delay = std::chrono::milliseconds(10)});
  const auto before = get_tracer().stats();
  // Ending spans never waits on the hung exporter. The pauses only keep the shared
  // queue (512) from overflowing on a slow machine, so that every drop is the hung lane's.
  for (int i = 0; i < 2000; i += 10) {
    make_spans(10);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  BOOST_TEST(force_flush(std::chrono::milliseconds(200)) == false);  // the hung one cannot flush
  // The healthy exporter got every span; the hung one's lane dropped what it could not hold.
  const auto after = get_tracer().stats();
  BOOST_TEST(healthy->spans().size() == 2000U);
  BOOST_TEST(after.dropped - before.dropped >= 2000U - 16U - 512U);
  BOOST_TEST(shutdown(std::chrono::milliseconds(300)) == false);  // the hung lane is left behind
  hung->release();  // it finishes later on its own, without touching freed memory
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto final_stats = get_tracer().stats();
  BOOST_TEST(final_stats.ended - before.ended == 2000U);
}

BOOST_AUTO_TEST_CASE(shutdown_counts_what_a_hung_exporter_still_holds) {
  // An unreachable collector at exit: shutdown gives up at its deadline. The spans the
  // exporter never got are counted as dropped by then, not left uncounted in a backlog.
  auto hung = hung_exporter();
  init({.exporters = {hung},
        .max_queue_size = 100,
        .max_export_batch_size = 10,
        .schedule_delay = std::chrono::hours(1)});
  const auto before = get_tracer().stats();
  make_spans(10);
  while (hung->exports == 0) std::this_thread::yield();  // one batch inside the exporter
  make_spans(50);
  BOOST_TEST(shutdown(std::chrono::milliseconds(200)) == false);
  const auto at_shutdown = get_tracer().stats();
  BOOST_TEST(at_shutdown.dropped - before.dropped == 50U);

  hung->release();  // the batch in flight completes later and is counted then
  for (int i = 0; i < 500 && get_tracer().stats().exported - before.exported < 10U; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto after = get_tracer().stats();
  BOOST_TEST(after.exported - before.exported == 10U);
  BOOST_TEST(after.dropped - before.dropped == 50U);
  BOOST_TEST(hung->exports.load() == 1);  // the abandoned backlog never reached it
}

BOOST_AUTO_TEST_CASE(failures_and_exceptions_are_counted_and_do_not_stop_the_others) {
  auto failing = std::make_shared<scripted_exporter>([](auto) { return export_result::failure; });
  auto throwing = std::make_shared<scripted_exporter>(
      [](auto) -> export_result { throw std::runtime_error("backend bug"); });
  auto memory = std::make_shared<memory_exporter>();
  init({.exporters = {failing, throwing, memory}});
  const auto before = get_tracer().stats();
  make_spans(20);
  BOOST_TEST(shutdown(std::chrono::seconds(10)));
  const auto after = get_tracer().stats();
  BOOST_TEST(memory->spans().size() == 20U);
  BOOST_TEST(after.exported - before.exported == 20U);
  BOOST_TEST(after.export_failures - before.export_failures == 40U);  // 20 per failing exporter
  BOOST_TEST(failing->exports >= 1);
}

BOOST_AUTO_TEST_CASE(shutdown_with_spans_in_flight_delivers_all_of_them) {
  auto memory = std::make_shared<memory_exporter>();
  init({.exporters = {memory}, .max_queue_size = 100000, .schedule_delay = std::chrono::hours(1)});
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> made{0};
  const auto before = get_tracer().stats();
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        auto s = get_tracer().span("busy");
        ++made;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(shutdown(std::chrono::seconds(20)));
  stop = true;
  for (auto& t : threads) t.join();
  const auto after = get_tracer().stats();
  BOOST_TEST(after.ended - before.ended == made.load());
  BOOST_TEST(memory->spans().size() + (after.dropped - before.dropped) == made.load());
}

BOOST_AUTO_TEST_CASE(batches_respect_the_batch_size_and_the_schedule_delay) {
  auto rec = std::make_shared<scripted_exporter>();
  init({.exporters = {rec}, .max_export_batch_size = 7, .schedule_delay = std::chrono::milliseconds(20)});
  make_spans(3);
  // No flush: the schedule delay alone must export them.
  for (int i = 0; i < 500 && rec->batch_sizes().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST(rec->batch_sizes().size() == 1U);
  make_spans(50);
  BOOST_TEST(shutdown());
  std::size_t total = 0;
  for (auto n : rec->batch_sizes()) {
    BOOST_TEST(n <= 7U);
    total += n;
  }
  BOOST_TEST(total == 53U);
}

// The queue's records are reused, span after span (their buffers kept): a span must
// arrive with exactly its own fields, never another's attributes, events, status or
// trace state, whether its record last held a rich span or none, in a burst that grew
// the queue or in a flush of a few spans; and two exporters see the same records.
BOOST_AUTO_TEST_CASE(reused_records_carry_nothing_from_earlier_spans) {
  auto first = std::make_shared<memory_exporter>();
  auto second = std::make_shared<memory_exporter>();
  init({.exporters = {first, second}, .max_queue_size = 4096, .max_export_batch_size = 100});
  const std::string long_value(300, 'v');  // longer than a record keeps
  remote_context remote;
  remote.trace_id = trace_id::generate();
  remote.span_id = span_id::generate();
  remote.sampled = true;
  remote.trace_state = "vendor=opaque";
  const auto rich = [&](int i) {
    auto s = get_tracer().span("rich " + std::to_string(i), span_type::llm, remote,
                               {{"model", long_value}, {"i", i}, {"ok", true}});
    for (int a = 0; a < 20; ++a) s->set_attribute("extra." + std::to_string(a), a);
    s->add_event("first", {{"n", 1}});
    s->add_event("second");
    s->set_status(span_status::error, "failed " + std::to_string(i));
  };
  const auto bare = [](int i) { auto s = get_tracer().span("bare " + std::to_string(i)); };
  const auto one = [&](bool is_rich, int i) { is_rich ? rich(i) : bare(i); };
  int next = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 700; ++i) one(i % 3 == 0, next++);  // a burst: the queue grows
    BOOST_TEST(force_flush(std::chrono::seconds(10)));
    for (int i = 0; i < 3; ++i) bare(next++);  // a few: mostly spare records
    BOOST_TEST(force_flush(std::chrono::seconds(10)));
    for (int i = 0; i < 50; ++i) one(i % 2 != 0, next++);
    BOOST_TEST(force_flush(std::chrono::seconds(10)));
  }
  BOOST_TEST(shutdown());
  const auto spans = first->spans();
  BOOST_TEST(spans.size() == static_cast<std::size_t>(next));
  const auto seen_by_second = second->spans();
  BOOST_REQUIRE(seen_by_second.size() == spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) {
    BOOST_TEST(spans[i].name == seen_by_second[i].name);
    BOOST_TEST((spans[i].attributes == seen_by_second[i].attributes));
    BOOST_TEST(spans[i].status_message == seen_by_second[i].status_message);
  }
  std::size_t rich_seen = 0;
  for (const auto& s : spans) {
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_REQUIRE(s.resource != nullptr);
      if (s.name.rfind("bare ", 0) == 0) {
        BOOST_TEST(s.attributes.empty());
        BOOST_TEST(s.events.empty());
        BOOST_TEST((s.status == span_status::unset));
        BOOST_TEST(s.status_message.empty());
        BOOST_TEST(s.trace_state.empty());
        BOOST_TEST(!s.parent_is_remote);
        BOOST_TEST((s.type == span_type::custom));
      } else {
        ++rich_seen;
        const std::string i = s.name.substr(5);
        BOOST_REQUIRE(s.attributes.size() == 23U);
        BOOST_TEST(prela::testing::str(s.attribute("model")) == long_value);
        BOOST_REQUIRE(s.attribute("i") != nullptr);
        BOOST_TEST(to_string(*s.attribute("i")) == i);
        BOOST_REQUIRE(s.attribute("extra.19") != nullptr);
        BOOST_TEST(to_string(*s.attribute("extra.19")) == "19");
        BOOST_REQUIRE(s.events.size() == 2U);
        BOOST_TEST(s.events[0].name == "first");
        BOOST_TEST(s.events[0].attributes.size() == 1U);
        BOOST_TEST(s.events[1].attributes.empty());
        BOOST_TEST((s.status == span_status::error));
        BOOST_TEST(s.status_message == "failed " + i);
        BOOST_TEST(s.trace_state == "vendor=opaque");
        BOOST_TEST(s.parent_is_remote);
        BOOST_TEST((s.trace_id == remote.trace_id));
      }
    }
  }
  BOOST_TEST(rich_seen > 700U);
}

// Spans travel to the export side as records of bytes (src/detail/span_record.cpp):
// every kind of value, events, status, flags and counts must arrive as they were set,
// and a record larger than the queue's chunks must keep its place among the others.
BOOST_AUTO_TEST_CASE(records_carry_every_field_and_value_kind) {
  auto exp = std::make_shared<memory_exporter>();
  init({.exporters = {exp}, .max_queue_size = 4096});
  using namespace std::string_literals;
  const prela::attributes every_kind = {
      {"bool", true},
      {"int", std::int64_t{-9'000'000'000}},
      {"double", -0.25},
      {"string", "text with \0 inside"s},
      {"empty", ""},
      {"bools", std::vector<bool>{true, false, true}},
      {"ints", std::vector<std::int64_t>{1, -2, 3}},
      {"doubles", std::vector<double>{0.5, 1e300}},
      {"strings", std::vector<std::string>{"a", "", "ccc"}},
      {"no ints", std::vector<std::int64_t>{}},
      {"no strings", std::vector<std::string>{}},
  };
  const std::string huge(200 * 1024, 'h');  // larger than a chunk of the queue
  remote_context remote;
  remote.trace_id = trace_id::generate();
  remote.span_id = span_id::generate();
  remote.sampled = true;
  remote.trace_state = "a=1,b=2";
  for (int i = 0; i < 3; ++i) {
    {
      auto s =
          get_tracer().span("kinds\x01\xff"s + std::to_string(i), span_type::retrieval, remote, every_kind);
      s->add_event("event", every_kind);
      for (std::size_t e = 0; e <= max_events_per_span; ++e) s->add_event("more");
      for (std::size_t a = 0; a < max_attributes_per_span; ++a)
        s->set_attribute("extra." + std::to_string(a), 1);
      s->set_status(span_status::error, "why");
    }
    {
      auto s = get_tracer().span("huge " + std::to_string(i));
      s->set_attribute("huge", huge);
    }
    auto s = get_tracer().span("after " + std::to_string(i));
  }
  BOOST_TEST(shutdown());
  const auto spans = exp->spans();
  BOOST_REQUIRE(spans.size() == 9U);
  for (int i = 0; i < 3; ++i) {
    const span_data& kinds = spans[static_cast<std::size_t>(i) * 3];
    const span_data& large = spans[static_cast<std::size_t>(i) * 3 + 1];
    const span_data& after = spans[static_cast<std::size_t>(i) * 3 + 2];
    BOOST_TEST(kinds.name == "kinds\x01\xff"s + std::to_string(i));
    BOOST_TEST((kinds.type == span_type::retrieval));
    BOOST_TEST((kinds.trace_id == remote.trace_id));
    BOOST_TEST((kinds.parent_span_id == remote.span_id));
    BOOST_TEST(kinds.parent_is_remote);
    BOOST_TEST(kinds.trace_flags == trace_flag_sampled);
    BOOST_TEST(kinds.trace_state == "a=1,b=2");
    BOOST_TEST((kinds.status == span_status::error));
    BOOST_TEST(kinds.status_message == "why");
    BOOST_TEST(kinds.end_time >= kinds.start_time);
    BOOST_REQUIRE(kinds.attributes.size() == max_attributes_per_span);
    BOOST_TEST((prela::attributes(kinds.attributes.begin(), kinds.attributes.begin() + 11) == every_kind));
    BOOST_TEST(kinds.dropped_attributes == every_kind.size());
    BOOST_REQUIRE(kinds.events.size() == max_events_per_span);
    BOOST_TEST(kinds.events[0].name == "event");
    BOOST_TEST((kinds.events[0].attributes == every_kind));
    BOOST_TEST(kinds.events[0].time >= kinds.start_time);
    BOOST_TEST(kinds.events[1].name == "more");
    BOOST_TEST(kinds.events[1].attributes.empty());
    BOOST_TEST(kinds.dropped_events == 2U);
    BOOST_TEST(large.name == "huge " + std::to_string(i));
    BOOST_TEST(prela::testing::str(large.attribute("huge")) == huge);
    BOOST_TEST(after.name == "after " + std::to_string(i));
    BOOST_TEST(after.attributes.empty());
    BOOST_TEST(!after.parent_is_remote);
  }
}

// The collector polls while spans arrive fast and sleeps until a batch fills when they
// do not (src/detail/batch_processor.cpp). Switching between the two must never lose a
// wake-up: with a schedule delay of an hour, every full batch is exported promptly
// after bursts that set the collector polling and pauses that end it.
BOOST_AUTO_TEST_CASE(full_batches_are_exported_promptly_across_bursts_and_pauses) {
  auto exp = std::make_shared<memory_exporter>();
  init({.exporters = {exp},
        .max_queue_size = 8192,
        .max_export_batch_size = 64,
        .schedule_delay = std::chrono::hours(1)});
  const auto before = get_tracer().stats();
  int made = 0;
  for (int round = 0; round < 30; ++round) {
    make_spans(3000);  // a burst
    made += 3000;
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 3));  // a pause
    for (int i = 0; i < 64 + round; ++i) {  // trickles: each full batch needs a wake-up
      make_spans(1);
      ++made;
      if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  // Everything but what is short of a batch reaches the exporter without a flush.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::uint64_t handled = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto now = get_tracer().stats();
    handled = (now.exported - before.exported) + (now.dropped - before.dropped);
    if (handled + 63 >= static_cast<std::uint64_t>(made)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BOOST_TEST(handled + 63 >= static_cast<std::uint64_t>(made));
  BOOST_TEST(shutdown());
  const auto after = get_tracer().stats();
  BOOST_TEST((after.exported - before.exported) + (after.dropped - before.dropped) ==
             static_cast<std::uint64_t>(made));
}

// Several threads end spans of every size at once, records larger than a chunk among
// them, while another flushes: every span arrives whole, or is counted as dropped.
BOOST_AUTO_TEST_CASE(concurrent_records_of_every_size_arrive_whole) {
  auto exp = std::make_shared<memory_exporter>();
  init({.exporters = {exp}, .max_queue_size = 16384, .max_export_batch_size = 128});
  const auto before = get_tracer().stats();
  constexpr int threads = 4;
  constexpr int per_thread = 3000;
  std::atomic<bool> done{false};
  std::thread flusher([&] {
    while (!done.load()) {
      force_flush(std::chrono::seconds(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([t] {
      for (int i = 0; i < per_thread; ++i) {
        // Sizes from a few bytes to 100 KiB (every 97th span), by the span's number.
        const std::size_t size = i % 97 == 0 ? 100 * 1024 : static_cast<std::size_t>(i % 300);
        auto s = get_tracer().span(std::to_string(t) + "/" + std::to_string(i));
        s->set_attribute("payload", std::string(size, static_cast<char>('a' + i % 26)));
        s->set_attribute("i", i);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  flusher.join();
  BOOST_TEST(shutdown());
  const auto after = get_tracer().stats();
  const auto spans = exp->spans();
  BOOST_TEST(after.exported - before.exported == spans.size());
  BOOST_TEST(spans.size() + (after.dropped - before.dropped) ==
             static_cast<std::size_t>(threads * per_thread));
  std::size_t wrong = 0;
  std::size_t large = 0;
  for (const auto& s : spans) {
    const int i = std::stoi(s.name.substr(s.name.find('/') + 1));
    const std::size_t size = i % 97 == 0 ? 100 * 1024 : static_cast<std::size_t>(i % 300);
    const std::string expected(size, static_cast<char>('a' + i % 26));
    large += size > 64 * 1024 ? 1 : 0;
    if (prela::testing::str(s.attribute("payload")) != expected || s.attribute("i") == nullptr ||
        to_string(*s.attribute("i")) != std::to_string(i)) {
      ++wrong;
    }
  }
  BOOST_TEST(wrong == 0U);
  BOOST_TEST_MESSAGE(spans.size() << " spans arrived, " << large << " of them larger than a chunk");
  BOOST_TEST(large > 0U);  // records larger than a chunk were among them
}

// The queue keeps a few emptied chunks of record bytes for reuse while spans flow, and
// frees them once the process is quiet (performance.md, "Memory"): tens of megabytes
// through the queue leave at most about 1.25 MiB of idle chunks behind, and a second
// later the collector's next pass frees them. mallinfo2 counts the main arena, where
// this thread allocates the chunks (the export side's threads allocate in their own).
BOOST_AUTO_TEST_CASE(the_queue_keeps_a_few_idle_chunks_under_load_and_frees_them_when_quiet) {
  using prela::testing::heap_in_use;
  if (heap_in_use() == 0) {
    BOOST_TEST_MESSAGE("mallinfo2 reports nothing under this allocator (a sanitizer): not measured");
    return;
  }
  auto exp = std::make_shared<scripted_exporter>();
  init({.exporters = {exp},
        .max_queue_size = 512,
        .max_export_batch_size = 512,
        .schedule_delay = std::chrono::hours(1)});
  const auto before = get_tracer().stats();
  const std::size_t at_start = heap_in_use();
  // 40-character names: records of about 120 bytes, 24 MB through the queue in all.
  const std::string name(40, 'n');
  std::size_t busy_peak = 0;
  for (int round = 0; round < 500; ++round) {  // 200 000 spans, none dropped: 400 < 512
    for (int i = 0; i < 400; ++i) auto s = get_tracer().span(name);
    BOOST_REQUIRE(force_flush(std::chrono::seconds(10)));
    busy_peak = std::max(busy_peak, heap_in_use());
  }
  BOOST_REQUIRE(get_tracer().stats().exported - before.exported == 200'000U);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  BOOST_REQUIRE(force_flush(std::chrono::seconds(10)));  // a collector pass: frees idle chunks
  const std::size_t quiet = heap_in_use();
  BOOST_TEST_MESSAGE("heap: " << at_start << " at start, " << busy_peak << " at most while busy, " << quiet
                              << " when quiet");
  // While busy: at least 5 idle chunks of 64 KiB after each flush, at most 20. Quiet:
  // none (no record was queued since they went idle).
  BOOST_TEST(busy_peak < at_start + 3 * 1024 * 1024);
  BOOST_TEST(quiet + 128 * 1024 < busy_peak);
  BOOST_TEST(shutdown());
}
