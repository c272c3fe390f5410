// The live view (prela::inflight, write_inflight) and stuck-span reporting
// (slow_span_threshold), on threads and on suspended coroutines.
#define BOOST_TEST_MODULE inflight
#include <boost/test/unit_test.hpp>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <latch>
#include <optional>
#include <set>
#include <sstream>

#include "asio_test_support.hpp"
#include "prela/inflight.hpp"

using namespace prela;
using namespace prela::testing;
using namespace std::chrono_literals;

namespace {

std::uint32_t this_thread_id() { return static_cast<std::uint32_t>(::syscall(SYS_gettid)); }

/// The open spans of one trace, or of the spans named with `prefix`.
std::vector<inflight_span> open_in(const trace_id& trace) {
  std::vector<inflight_span> out;
  for (auto& s : inflight()) {
    if (s.trace_id == trace) out.push_back(std::move(s));
  }
  return out;
}

std::size_t open_named(std::string_view prefix) {
  std::size_t n = 0;
  for (const auto& s : inflight()) n += s.name.starts_with(prefix) ? 1 : 0;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(lists_open_spans_with_parents_and_drops_them_at_end) {
  traced t;
  trace_id trace;
  {
    auto root = get_tracer().span("request", span_type::agent);
    trace = root->trace_id();
    std::vector<inflight_span> open;
    {
      auto child = get_tracer().span("lookup", span_type::retrieval);
      open = open_in(trace);
      BOOST_REQUIRE_EQUAL(open.size(), 2U);
      BOOST_TEST(open[0].name == "request");  // oldest first
      BOOST_TEST((open[0].type == span_type::agent));
      BOOST_TEST(!open[0].parent_span_id.is_valid());
      BOOST_TEST(open[1].name == "lookup");
      BOOST_TEST((open[1].type == span_type::retrieval));
      BOOST_TEST(open[1].parent_span_id == open[0].span_id);
      BOOST_TEST(open[1].span_id == child->span_id());
      for (const auto& s : open) {
        BOOST_TEST(s.running);  // this thread's own flow
        BOOST_TEST(s.thread == this_thread_id());
        BOOST_TEST(s.sampled);
        BOOST_TEST(s.age >= 0ns);
        BOOST_TEST(s.age < 60s);
      }
      BOOST_TEST(open[0].flow == open[1].flow);
    }
    open = open_in(trace);
    BOOST_REQUIRE_EQUAL(open.size(), 1U);
    BOOST_TEST(open[0].name == "request");
  }
  BOOST_TEST(open_in(trace).empty());
}

BOOST_AUTO_TEST_CASE(unsampled_spans_are_listed_too) {
  traced t({.sampler = always_off()});
  auto s = get_tracer().span("not sampled");
  const auto open = open_in(s->trace_id());
  BOOST_REQUIRE_EQUAL(open.size(), 1U);
  BOOST_TEST(!open[0].sampled);
  BOOST_TEST(open[0].age < 60s);  // a coarse start time, but a real one
  BOOST_TEST(open[0].age >= 0ns);
}

BOOST_AUTO_TEST_CASE(long_names_are_cut_at_a_code_point_and_escaped_when_written) {
  traced t;
  // 39 ASCII bytes, then a 3-byte character across the 40-byte limit.
  const std::string name = std::string(39, 'a') + "\u2603" + "tail";
  auto s = get_tracer().span(name);
  const auto open = open_in(s->trace_id());
  BOOST_REQUIRE_EQUAL(open.size(), 1U);
  BOOST_TEST(open[0].name == std::string(39, 'a') + "\u2026");

  auto evil = get_tracer().span("\x1b]0;owned\x07\nline");
  std::ostringstream out;
  write_inflight(out, open_in(s->trace_id()));
  const std::string text = out.str();
  BOOST_TEST(text.find('\x1b') == std::string::npos);
  BOOST_TEST(text.find('\x07') == std::string::npos);
  BOOST_TEST(text.find("\\x1B]0;owned\\x07\\nline") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(suspended_coroutines_show_as_suspended_trees) {
  traced t;
  constexpr int tasks = 200;
  net::io_context io;
  std::atomic<int> waiting{0};
  net::steady_timer gate(io, std::chrono::steady_clock::time_point::max());
  for (int i = 0; i < tasks; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> net::awaitable<void> {
          auto request = get_tracer().span("request " + std::to_string(i), span_type::agent);
          auto handler = get_tracer().span("handler", span_type::tool);
          ++waiting;
          boost::system::error_code ec;
          co_await gate.async_wait(net::redirect_error(net::use_awaitable, ec));
        },
        net::detached);
  }
  std::thread runner([&] { io.run(); });
  while (waiting.load() < tasks) std::this_thread::sleep_for(1ms);
  // The last task may still be between its count and its co_await: a handler posted
  // now runs when every task has suspended.
  std::promise<void> idle;
  net::post(io, [&] { idle.set_value(); });
  idle.get_future().wait();

  const auto all = inflight();
  std::map<std::uint64_t, std::vector<const inflight_span*>> by_flow;
  std::set<trace_id> traces;
  for (const auto& s : all) {
    if (s.name.starts_with("request ") || s.name == "handler") {
      by_flow[s.flow].push_back(&s);
      traces.insert(s.trace_id);
      BOOST_TEST(!s.running, s.name << " is waiting in co_await");
    }
  }
  BOOST_TEST(by_flow.size() == static_cast<std::size_t>(tasks));  // one flow per task
  BOOST_TEST(traces.size() == static_cast<std::size_t>(tasks));
  for (const auto& [flow, spans] : by_flow) {
    BOOST_REQUIRE_EQUAL(spans.size(), 2U);
    BOOST_TEST(spans[1]->parent_span_id == spans[0]->span_id);
  }

  std::ostringstream out;
  write_inflight(out, all);
  const std::string text = out.str();
  BOOST_TEST(text.find("trace ") != std::string::npos);
  BOOST_TEST(text.find("  request 0 (agent) ") != std::string::npos, text.substr(0, 400));
  BOOST_TEST(text.find("    handler (tool) ") != std::string::npos);
  BOOST_TEST(text.find(" suspended") != std::string::npos);

  net::post(io, [&] { gate.cancel(); });
  runner.join();
  BOOST_TEST(open_named("request ") == 0U);
  BOOST_TEST(open_named("handler") == 0U);
}

BOOST_AUTO_TEST_CASE(a_running_flow_names_its_thread) {
  traced t;
  net::io_context io;
  std::latch inside(1);
  std::latch release(1);
  std::uint32_t runner_id = 0;
  asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto busy = get_tracer().span("busy");
        runner_id = this_thread_id();
        inside.count_down();
        release.wait();  // blocked inside the flow: it is running
        co_return;
      },
      net::detached);
  std::thread runner([&] { io.run(); });
  inside.wait();
  bool found = false;
  for (const auto& s : inflight()) {
    if (s.name != "busy") continue;
    found = true;
    BOOST_TEST(s.running);
    BOOST_TEST(s.thread == runner_id);
  }
  BOOST_TEST(found);
  release.count_down();
  runner.join();
}

BOOST_AUTO_TEST_CASE(spans_ended_on_other_threads_leave_the_view_and_their_slots_are_reused) {
  traced t({.sampler = always_off()});
  // Start on this thread, end on another, many times over: the view never keeps them.
  for (int round = 0; round < 20; ++round) {
    std::vector<span_handle> handles;
    for (int i = 0; i < 1000; ++i) handles.push_back(get_tracer().start_span("moved"));
    BOOST_TEST(open_named("moved") == 1000U);
    std::thread([&] {
      for (auto& h : handles) h.end();
    }).join();
    handles.clear();
    BOOST_TEST(open_named("moved") == 0U);
  }
}

BOOST_AUTO_TEST_CASE(snapshots_during_churn_are_consistent) {
  // Writers on 4 threads start and end spans whose name, type and nesting encode one
  // another, while another thread takes snapshots: every listed span must be whole.
  traced t({.sampler = always_off()});
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&stop, w] {
      for (std::uint64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        const auto type = static_cast<span_type>(k % 6);
        auto outer = get_tracer().span("w" + std::to_string(w) + "-" + std::to_string(k), type);
        auto inner = get_tracer().span("inner-of-w" + std::to_string(w) + "-" + std::to_string(k), type);
      }
    });
  }
  int snapshots = 0;
  std::size_t seen = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until || seen < 100) {
    const auto all = inflight();
    std::map<std::uint64_t, const inflight_span*> by_id;
    for (const auto& s : all) by_id[s.span_id.value()] = &s;
    for (const auto& s : all) {
      std::string_view n = s.name;
      const bool inner = n.starts_with("inner-of-");
      if (inner) n.remove_prefix(9);
      if (!n.starts_with("w")) continue;
      ++seen;
      const auto dash = n.find('-');
      PRELA_THREAD_CHECK(dash != std::string_view::npos);
      if (dash == std::string_view::npos) continue;
      const auto k = std::stoull(std::string(n.substr(dash + 1)));
      PRELA_THREAD_CHECK(static_cast<std::uint64_t>(s.type) == k % 6);
      PRELA_THREAD_CHECK(s.trace_id.is_valid() && s.span_id.is_valid());
      if (inner) {
        const auto p = by_id.find(s.parent_span_id.value());
        if (p != by_id.end())
          PRELA_THREAD_CHECK(p->second->name == s.name.substr(9) && p->second->trace_id == s.trace_id);
      }
    }
    ++snapshots;
  }
  stop = true;
  for (auto& w : writers) w.join();
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(seen > 0U);
  BOOST_TEST_MESSAGE(snapshots << " snapshots, " << seen << " spans checked");
}

BOOST_AUTO_TEST_CASE(spans_of_exited_threads_stay_listed_until_they_end) {
  traced t;
  std::optional<span_handle> h;
  std::thread([&] { h.emplace(get_tracer().start_span("outlives its thread")); }).join();
  BOOST_TEST(open_named("outlives its thread") == 1U);
  // The next thread adopts the exited thread's table.
  std::thread([&] {
    auto s = get_tracer().span("adopter");
    BOOST_TEST(open_named("adopter") == 1U);
  }).join();
  h->end();
  BOOST_TEST(open_named("outlives its thread") == 0U);
}

BOOST_AUTO_TEST_CASE(slow_spans_are_reported_once_with_their_ancestors) {
  captured_warnings warnings;
  traced t({.slow_span_threshold = 50ms});
  const auto before = get_tracer().stats();
  net::io_context io;
  asio::co_spawn(
      io,
      []() -> net::awaitable<void> {
        auto request = get_tracer().span("request", span_type::agent);
        auto query = get_tracer().span("db query", span_type::retrieval);
        co_await sleep_for(400ms);  // suspended, past the threshold
      },
      net::detached);
  {
    auto quick = get_tracer().span("quick");  // ends long before the threshold
  }
  io.run();
  // The reporter runs every 25 ms here: give it time to see nothing else.
  std::this_thread::sleep_for(100ms);
  const auto after = get_tracer().stats();
  BOOST_TEST(after.slow_spans - before.slow_spans == 2U);  // request and db query, once each
  const auto lines = warnings.lines();
  int db = 0;
  for (const auto& l : lines) {
    if (l.find("slow span: 'db query' (retrieval) open for ") == std::string::npos) continue;
    ++db;
    BOOST_TEST(l.find("(slow_span_threshold 50 ms)") != std::string::npos, l);
    BOOST_TEST(l.find("suspended") != std::string::npos, l);
    BOOST_TEST(l.find("request \u2192 db query") != std::string::npos, l);
  }
  BOOST_TEST(db == 1);
  for (const auto& l : lines) BOOST_TEST(l.find("'quick'") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(slow_span_threshold_is_validated) {
  BOOST_CHECK_THROW(init({.slow_span_threshold = -1ms}), std::invalid_argument);
  BOOST_CHECK_THROW(init({.slow_span_threshold = 86'400'001ms}), std::invalid_argument);
  shutdown();
  captured_warnings warnings;
  ::setenv("PRELA_SLOW_SPAN_THRESHOLD", "-5", 1);
  BOOST_TEST(tracer_options::from_env().slow_span_threshold.count() == 0);
  ::setenv("PRELA_SLOW_SPAN_THRESHOLD", "99999999999999999999", 1);
  BOOST_TEST(tracer_options::from_env().slow_span_threshold.count() == 0);
  ::setenv("PRELA_SLOW_SPAN_THRESHOLD", "2500", 1);
  BOOST_TEST(tracer_options::from_env().slow_span_threshold.count() == 2500);
  ::unsetenv("PRELA_SLOW_SPAN_THRESHOLD");
  int named = 0;
  for (const auto& l : warnings.lines())
    named += l.find("PRELA_SLOW_SPAN_THRESHOLD") != std::string::npos ? 1 : 0;
  BOOST_TEST(named == 2);
}

BOOST_AUTO_TEST_CASE(a_fork_child_lists_only_its_own_thread) {
  traced t;
  std::latch holding(1);
  std::latch done(1);
  std::thread other([&] {
    auto s = get_tracer().span("other thread");
    holding.count_down();
    done.wait();
  });
  holding.wait();
  auto mine = get_tracer().span("forking thread");
  BOOST_TEST(open_named("other thread") == 1U);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const bool ok = open_named("other thread") == 0 && open_named("forking thread") == 1;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  done.count_down();
  other.join();
}
