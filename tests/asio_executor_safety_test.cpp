// The executor-safety invariant (one context installed on at most one thread at a time)
// and the idioms around it: every executor type a task can have, tokens wrapped in
// bind_executor, long callback sessions, composed operations with move-only state.
#define BOOST_TEST_MODULE asio_executor_safety
#include <boost/test/unit_test.hpp>

#include <memory>
#include <set>

#include "asio_test_support.hpp"

using namespace prela;
using namespace prela::testing;
using net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr int threads = 4;
constexpr int tasks = 60;

// --- co_await co_spawn(..., use_awaitable) on every executor type -----------------------

template <class Executor>
net::awaitable<int, Executor> spawned_child(int id) {
  auto s = get_tracer().span("child", span_type::tool);
  net::steady_timer timer(co_await net::this_coro::executor, std::chrono::microseconds(50 * (id % 7)));
  co_await timer.async_wait(net::use_awaitable_t<Executor>{});
  co_return id;
}

template <class Executor>
net::awaitable<void, Executor> awaiting_parent(int id) {
  auto a = get_tracer().span("a", span_type::agent);
  const span* mine = &*a;
  auto ex = co_await net::this_coro::executor;
  const int r = co_await asio::co_spawn(ex, spawned_child<Executor>(id), net::use_awaitable_t<Executor>{});
  PRELA_THREAD_CHECK(r == id);
  PRELA_THREAD_CHECK(current_span() == mine);
  {
    auto b = get_tracer().span("b");  // opened after the await, ended after the next one
    net::steady_timer timer(ex, std::chrono::microseconds(30 * (id % 5)));
    co_await timer.async_wait(net::use_awaitable_t<Executor>{});
    PRELA_THREAD_CHECK(current_span() == &*b);
  }
  PRELA_THREAD_CHECK(current_span() == mine);
  auto c = get_tracer().span("c");
}

/// Runs `tasks` tasks started by `start(io, i)` on `threads` threads; checks that no
/// in-task check failed, no mismatch was counted, nothing was lost or orphaned; returns
/// the exported spans.
template <class Start>
std::vector<span_data> run_clean(int count, Start start) {
  traced t({.max_queue_size = 1 << 16});
  const auto before = get_tracer().stats();
  net::io_context io(threads);
  for (int i = 0; i < count; ++i) start(io, i);
  run_on_threads(io, threads);
  auto spans = t.spans();
  const auto after = get_tracer().stats();
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(after.context_mismatches == before.context_mismatches);
  BOOST_TEST(balanced(before, after));
  const forest f = read_forest(spans);
  BOOST_TEST(f.orphans == 0U);
  BOOST_TEST(f.cross_trace_parents == 0U);
  BOOST_TEST(f.roots == static_cast<std::size_t>(count));
  return spans;
}

template <class Executor, class MakeExecutor>
void check_awaiting_a_spawn_on(MakeExecutor make) {
  const auto spans = run_clean(tasks, [&](net::io_context& io, int i) {
    asio::co_spawn(make(io), awaiting_parent<Executor>(i), net::detached);
  });
  const forest f = read_forest(spans);
  for (const auto& s : spans) {
    BOOST_TEST((s.status != span_status::error), s.name << ": " << s.status_message);
    if (s.name != "a") BOOST_TEST(f.parent_name(s) == "a", s.name << " under '" << f.parent_name(s) << "'");
  }
  BOOST_TEST(spans.size() == static_cast<std::size_t>(tasks * 4));
}

using with_default = net::use_awaitable_t<>::executor_with_default<net::any_io_executor>;

}  // namespace

BOOST_AUTO_TEST_SUITE(executor_safety)

BOOST_AUTO_TEST_CASE(awaiting_a_spawn_on_an_io_context_executor) {
  check_awaiting_a_spawn_on<net::any_io_executor>([](net::io_context& io) { return io.get_executor(); });
}

BOOST_AUTO_TEST_CASE(awaiting_a_spawn_on_an_any_io_executor) {
  check_awaiting_a_spawn_on<net::any_io_executor>(
      [](net::io_context& io) { return net::any_io_executor(io.get_executor()); });
}

BOOST_AUTO_TEST_CASE(awaiting_a_spawn_on_a_strand) {
  check_awaiting_a_spawn_on<net::any_io_executor>([](net::io_context& io) { return net::make_strand(io); });
}

BOOST_AUTO_TEST_CASE(awaiting_a_spawn_on_a_strand_of_any_io_executor) {
  check_awaiting_a_spawn_on<net::any_io_executor>([](net::io_context& io) {
    return net::strand<net::any_io_executor>(net::any_io_executor(io.get_executor()));
  });
}

BOOST_AUTO_TEST_CASE(awaiting_a_spawn_in_a_task_whose_executor_is_as_default_on) {
  check_awaiting_a_spawn_on<with_default>(
      [](net::io_context& io) { return with_default(net::any_io_executor(io.get_executor())); });
}

// --- bind_executor hops -----------------------------------------------------------------

net::awaitable<void> hopping_task(int id, net::strand<net::io_context::executor_type> strand) {
  auto task = get_tracer().span("task", span_type::agent);
  {
    auto hop = get_tracer().span("hop");
    const span* mine = &*hop;
    co_await net::post(asio::bind_context(net::bind_executor(strand, net::use_awaitable)));
    PRELA_THREAD_CHECK(current_span() == mine);
    PRELA_THREAD_CHECK(strand.running_in_this_thread());
    auto inner = get_tracer().span("after_hop");  // held across the next hop
    co_await net::dispatch(net::bind_executor(strand, asio::bind_context(net::use_awaitable)));
    PRELA_THREAD_CHECK(current_span() == &*inner);
    net::steady_timer timer(strand, std::chrono::microseconds(20 * (id % 5)));
    co_await timer.async_wait(asio::bind_context(net::bind_executor(strand, net::use_awaitable)));
    PRELA_THREAD_CHECK(current_span() == &*inner);
  }
  PRELA_THREAD_CHECK(current_span() == &*task);
}

BOOST_AUTO_TEST_CASE(bind_executor_hops_keep_the_context_when_bound_in_either_order) {
  const auto spans = run_clean(200, [](net::io_context& io, int i) {
    asio::co_spawn(io, hopping_task(i, net::make_strand(io)), net::detached);
  });
  const forest f = read_forest(spans);
  std::set<trace_id> traces;
  for (const auto& s : spans) {
    traces.insert(s.trace_id);
    if (s.name == "hop") BOOST_TEST(f.parent_name(s) == "task");
    if (s.name == "after_hop") BOOST_TEST(f.parent_name(s) == "hop");
  }
  BOOST_TEST(traces.size() == 200U);
}

net::awaitable<void> unwrapped_hop(net::strand<net::io_context::executor_type> strand) {
  auto task = get_tracer().span("task", span_type::agent);
  co_await net::post(net::bind_executor(strand, net::use_awaitable));  // resumes without the context
  auto lost = get_tracer().span("after_plain_hop");                    // on the strand thread's context
  co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
}

BOOST_AUTO_TEST_CASE(a_plain_bind_executor_hop_mis_nests_and_is_counted_never_more) {
  traced t({.max_queue_size = 1 << 16});
  const auto before = get_tracer().stats();
  net::io_context io(threads);
  for (int i = 0; i < 200; ++i) asio::co_spawn(io, unwrapped_hop(net::make_strand(io)), net::detached);
  run_on_threads(io, threads);
  const auto spans = t.spans();
  const auto after = get_tracer().stats();
  BOOST_TEST(balanced(before, after));
  BOOST_TEST(spans.size() == 400U);
  BOOST_TEST(read_forest(spans).orphans == 0U);
  BOOST_TEST(after.context_mismatches > before.context_mismatches);
  for (const auto& s : spans)
    BOOST_TEST(s.status_message != "cancelled");  // a mismatch is not a cancellation
}

// --- the invariant itself -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_context_executor_used_for_concurrent_work_never_runs_two_at_once) {
  // One fork for concurrent work is a misuse: the work queues up behind the flow (or,
  // past the retry budget, runs under its thread's own context, counted). It never runs
  // on two threads in one context.
  traced t({.max_queue_size = 1 << 16});
  const auto before = get_tracer().stats();
  net::io_context io(threads);
  auto shared = asio::fork(io.get_executor());
  std::atomic<int> inside{0};
  std::atomic<int> overlap{0};
  std::atomic<int> ran{0};
  for (int i = 0; i < 2000; ++i) {
    net::post(shared, [&] {
      if (prela::detail::peek_context() == shared.context()) {
        if (inside.fetch_add(1) != 0) ++overlap;
        auto s = get_tracer().span("work");
        std::this_thread::yield();
        inside.fetch_sub(1);
      }
      ++ran;
    });
  }
  run_on_threads(io, threads);
  BOOST_TEST(ran.load() == 2000);
  BOOST_TEST(overlap.load() == 0);
  const auto spans = t.spans();
  BOOST_TEST(balanced(before, get_tracer().stats()));
  // Every scope closed in its own flow: none out of nesting.
  BOOST_TEST(read_forest(spans).max_depth == 1U);
}

BOOST_AUTO_TEST_CASE(a_busy_flow_guard_installs_nothing_and_its_fall_back_is_counted) {
  auto ctx = trace_context::create();
  std::atomic<bool> held{false};
  std::atomic<bool> done{false};
  std::thread owner([&] {
    prela::detail::flow_guard g(ctx.get());
    held = true;
    while (!done) std::this_thread::yield();
  });
  while (!held) std::this_thread::yield();
  const auto before = get_tracer().stats().context_mismatches;
  trace_context* mine = prela::detail::peek_context();
  {
    prela::detail::flow_guard g(ctx.get());
    BOOST_TEST(g.busy());
    BOOST_TEST(prela::detail::peek_context() == mine);  // nothing installed
    g.fall_back();
    BOOST_TEST(prela::detail::peek_context() != ctx.get());
  }
  BOOST_TEST(prela::detail::peek_context() == mine);
  BOOST_TEST(get_tracer().stats().context_mismatches == before + 1);
  done = true;
  owner.join();
  {
    prela::detail::flow_guard g(ctx.get());  // released: free again
    BOOST_TEST(!g.busy());
    BOOST_TEST(prela::detail::peek_context() == ctx.get());
  }
}

// --- a long callback session ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_callback_session_of_200_messages_stays_two_levels_deep) {
  traced t({.max_queue_size = 1 << 16});
  const auto before = get_tracer().stats();
  net::io_context io(threads);
  tcp::acceptor acceptor(io, {net::ip::address_v4::loopback(), 0});
  const auto endpoint = acceptor.local_endpoint();
  asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto ex = co_await net::this_coro::executor;
        tcp::socket s = co_await acceptor.async_accept(asio::new_flow(ex, "session", span_type::agent),
                                                       net::use_awaitable);
        std::make_shared<callback_echo_session>(std::move(s))->start();
      },
      net::detached);
  std::vector<std::thread> server;
  for (int i = 0; i < threads; ++i) server.emplace_back([&] { io.run(); });
  const int echoes = run_echo_clients(endpoint, 1, 200);
  for (auto& th : server) th.join();
  const auto spans = t.spans();
  BOOST_TEST(echoes == 200);
  BOOST_TEST(balanced(before, get_tracer().stats()));
  const forest f = read_forest(spans);
  BOOST_TEST(spans.size() == 201U);
  BOOST_TEST(f.max_depth == 2U);
  BOOST_TEST(f.roots == 1U);
  for (const auto& s : spans) {
    if (s.name == "message") BOOST_TEST(f.parent_name(s) == "session");
  }
}

// --- a deferred composed operation with move-only state ---------------------------------

template <class Token>
auto async_count_ticks(net::steady_timer& timer, int ticks, Token&& token) {
  return net::async_compose<Token, void(boost::system::error_code, int)>(
      [state = std::make_unique<int>(0), ticks, &timer](auto& self,
                                                        boost::system::error_code ec = {}) mutable {
        if (ec || *state == ticks) {
          const int n = *state;
          self.complete(ec, n);
          return;
        }
        ++*state;
        timer.expires_after(1ms);
        timer.async_wait(std::move(self));
      },
      token, timer);
}

BOOST_AUTO_TEST_CASE(bind_context_completes_a_deferred_composed_operation_with_move_only_state) {
  traced t;
  net::io_context io;
  net::steady_timer timer(io);
  int got = -1;
  span_id seen;
  span_id expected;
  {
    auto s = get_tracer().span("starts_it");
    expected = s->span_id();
    auto op = async_count_ticks(timer, 3, net::deferred);
    std::move(op)(
        asio::bind_context([&, done = std::make_unique<int>(1)](boost::system::error_code ec, int n) {
          got = ec ? -2 : n * *done;
          auto cb = get_tracer().span("completion");
          seen = cb->parent_span_id();
        }));
  }
  io.run();
  BOOST_TEST(got == 3);
  BOOST_TEST(seen == expected);
}

BOOST_AUTO_TEST_SUITE_END()
