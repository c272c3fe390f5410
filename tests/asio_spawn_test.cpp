#define BOOST_TEST_MODULE asio_spawn
#include <boost/test/unit_test.hpp>

#include <boost/asio/compose.hpp>

#include <memory>
#include <set>

#include "asio_test_support.hpp"

using namespace prela;
using namespace prela::testing;

namespace {

net::awaitable<int> spans_then_returns(int value) {
  auto s = get_tracer().span("spawned", span_type::agent);
  co_await sleep_for(std::chrono::milliseconds(1));
  co_return value;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(spawn_suite, thread_checks)

BOOST_AUTO_TEST_CASE(the_spawned_coroutine_is_a_child_flow_and_the_handler_runs_under_the_spawner) {
  traced t;
  net::io_context io;
  span_id spawner_span;
  int result = 0;
  {
    auto s = get_tracer().span("spawner");
    spawner_span = s->span_id();
    set_baggage("request", "r1");
    asio::co_spawn(io, spans_then_returns(7), [&](std::exception_ptr e, int r) {
      PRELA_THREAD_CHECK(!e);
      result = r;
      // The handler runs in the spawner's flow, as of the co_spawn call.
      PRELA_THREAD_CHECK(current_span() != nullptr && current_span()->span_id() == spawner_span);
      PRELA_THREAD_CHECK(get_baggage("request") == "r1");
    });
  }
  io.run();
  BOOST_TEST(result == 7);
  const auto spans = t.spans();
  BOOST_TEST((find(spans, "spawned")->parent_span_id == spawner_span));
}

BOOST_AUTO_TEST_CASE(awaiting_a_spawn_resumes_the_awaiting_coroutine_in_its_own_flow) {
  traced t;
  net::io_context io;
  asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto outer = get_tracer().span("outer");
        const int r = co_await asio::co_spawn(co_await net::this_coro::executor, spans_then_returns(3),
                                              net::use_awaitable);
        PRELA_THREAD_CHECK(r == 3);
        PRELA_THREAD_CHECK(current_span() == &*outer);
        PRELA_THREAD_CHECK(get_trace_context().depth() == 1);
      },
      net::detached);
  io.run();
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(get_tracer().stats().context_mismatches == 0U);
}

BOOST_AUTO_TEST_CASE(fork_of_a_thread_pool_executor) {
  traced t;
  net::thread_pool pool(4);
  span_id parent;
  std::atomic<int> done{0};
  {
    auto s = get_tracer().span("submitter");
    parent = s->span_id();
    for (int i = 0; i < 50; ++i) {
      net::post(asio::fork(pool.get_executor()), [&, i] {  // one fork per task
        auto w = get_tracer().span("pool_task");
        PRELA_THREAD_CHECK(w->parent_span_id() == parent);
        PRELA_THREAD_CHECK(get_trace_context().depth() == 1);
        w->set_attribute("i", i);
        ++done;
      });
    }
  }
  pool.join();
  BOOST_TEST(done.load() == 50);
  const auto spans = t.spans();
  int tasks = 0;
  for (const auto& s : spans) tasks += s.name == "pool_task" && s.parent_span_id == parent ? 1 : 0;
  BOOST_TEST(tasks == 50);
}

// Inside a coroutine, `co_await this_coro::executor` is an any_io_executor holding the
// task's own adapter. A fork of it is a new flow: its work runs under the fork, not
// under the task's context (the task is suspended, alive, while the work runs).
BOOST_AUTO_TEST_CASE(fork_of_a_coroutines_own_executor_is_a_new_flow) {
  traced t;
  net::io_context io;
  span_id task_span;
  span_id worker_parent;
  trace_context* task_context = nullptr;
  trace_context* worker_context = nullptr;
  asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto task = get_tracer().span("task");
        task_span = task->span_id();
        task_context = &get_trace_context();
        const auto ex = co_await net::this_coro::executor;
        // Forked over the executor beneath the task's adapter: one adapter, not two.
        PRELA_THREAD_CHECK(asio::fork(ex).get_inner_executor().target<net::io_context::executor_type>() !=
                           nullptr);
        net::post(asio::fork(ex), [&] {
          worker_context = prela::detail::peek_context();
          auto w = get_tracer().span("worker");
          worker_parent = w->parent_span_id();
        });
        co_await net::post(ex, net::use_awaitable);  // the worker runs first, the task waits
        PRELA_THREAD_CHECK(current_span() == &*task);
        PRELA_THREAD_CHECK(get_trace_context().depth() == 1);
      },
      net::detached);
  io.run();
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(worker_context != nullptr);
  BOOST_TEST(worker_context != task_context);
  BOOST_TEST((worker_parent == task_span));
}

// An operation's span ended by its completion on a pool thread, while the coroutine
// that started it keeps opening spans on the io_context's threads (run under tsan).
BOOST_AUTO_TEST_CASE(handles_ended_on_a_pool_while_their_coroutine_runs_on) {
  traced t;
  const auto before = get_tracer().stats();
  net::io_context io;
  net::thread_pool pool(2);
  constexpr int tasks = 8;
  constexpr int ops = 200;
  for (int i = 0; i < tasks; ++i) {
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          auto request = get_tracer().span("request");
          std::set<span_id> mine{request->span_id()};
          for (int k = 0; k < ops; ++k) {
            auto op = std::make_shared<span_handle>(get_tracer().start_span("db_call"));
            mine.insert((*op)->span_id());
            net::post(pool, [op] { op->end(); });
            // The parent is this flow's own: the request, or an operation not yet ended.
            auto step = get_tracer().span("step");
            PRELA_THREAD_CHECK(mine.count(step->parent_span_id()) == 1);
            co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
            PRELA_THREAD_CHECK(current_span() == &*step);
          }
          // The request may end while some operations are still open: they stop being
          // current (not a nesting error) and end on the pool later.
        },
        net::detached);
  }
  run_on_threads(io, 2);
  pool.join();
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  const auto after = get_tracer().stats();
  BOOST_TEST(after.started - before.started == std::uint64_t{tasks * (1 + 2 * ops)});
  BOOST_TEST(after.ended - before.ended == after.started - before.started);
  BOOST_TEST(after.context_mismatches == before.context_mismatches);
}

BOOST_AUTO_TEST_CASE(bind_context_on_a_timer_callback) {
  traced t;
  net::io_context io;
  net::steady_timer timer(io, std::chrono::milliseconds(1));
  span_id parent;
  bool called = false;
  {
    auto s = get_tracer().span("arm_timer");
    parent = s->span_id();
    timer.async_wait(asio::bind_context([&](boost::system::error_code ec) {
      called = !ec;
      PRELA_THREAD_CHECK(current_span() != nullptr && current_span()->span_id() == parent);
      auto cb = get_tracer().span("timer_callback");
      PRELA_THREAD_CHECK(cb->parent_span_id() == parent);
    }));
  }
  auto unrelated = get_tracer().span("running_thread");
  io.run();
  BOOST_TEST(called);
  BOOST_TEST(current_span() == &*unrelated);
  const auto spans = t.spans();
  BOOST_TEST((find(spans, "timer_callback")->parent_span_id == parent));
}

namespace {
// A composed operation made of two timer waits: its final handler must still be bound.
template <class Token>
auto async_double_wait(net::steady_timer& timer, Token&& token) {
  return net::async_compose<Token, void(boost::system::error_code)>(
      [&timer, step = 0](auto& self, boost::system::error_code ec = {}) mutable {
        if (!ec && step < 2) {
          ++step;
          timer.expires_after(std::chrono::milliseconds(1));
          timer.async_wait(std::move(self));
          return;
        }
        self.complete(ec);
      },
      token, timer);
}
}  // namespace

BOOST_AUTO_TEST_CASE(bind_context_on_a_composed_operation) {
  traced t;
  net::io_context io;
  net::steady_timer timer(io);
  span_id parent;
  bool called = false;
  {
    auto s = get_tracer().span("compose_start");
    parent = s->span_id();
    async_double_wait(timer, asio::bind_context([&](boost::system::error_code ec) {
                        called = !ec;
                        PRELA_THREAD_CHECK(current_span() != nullptr && current_span()->span_id() == parent);
                      }));
  }
  io.run();
  BOOST_TEST(called);
}

BOOST_AUTO_TEST_CASE(frames_destroyed_while_suspended_end_their_spans_as_cancelled) {
  traced t;
  auto destroyer_span = get_tracer().span("destroying_thread");
  const span* mine = &*destroyer_span;
  {
    net::io_context io;
    int suspended = 0;
    for (int i = 0; i < 200; ++i) {
      asio::co_spawn(
          io,
          [&suspended]() -> net::awaitable<void> {
            auto s = get_tracer().span("suspended_forever");
            auto inner = get_tracer().span("inner");
            ++suspended;
            co_await sleep_for(std::chrono::hours(1));
          },
          net::detached);
    }
    // Run until every coroutine has reached its suspension point (bounded, so a bug
    // cannot hang the suite).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (suspended < 200 && std::chrono::steady_clock::now() < give_up)
      io.run_one_for(std::chrono::milliseconds(10));
    BOOST_REQUIRE(suspended == 200);
    io.stop();
  }                                    // io_context destroyed here: the frames are destroyed on this thread
  BOOST_TEST(current_span() == mine);  // the destroying thread's context is untouched
  BOOST_TEST(get_trace_context().depth() == 1U);
  const auto spans = t.spans();
  int cancelled = 0;
  for (const auto& s : spans) {
    if (s.name == "suspended_forever" || s.name == "inner") {
      cancelled += s.status == span_status::error && s.status_message == "cancelled" ? 1 : 0;
    }
  }
  BOOST_TEST(cancelled == 400);
  BOOST_TEST(get_tracer().stats().context_mismatches == 0U);
}

// The same for resumptions still queued in the io_context (each task's next step is a
// posted function when the io_context goes): the queued function is destroyed unrun,
// and the frames it owns end their spans as cancelled.
BOOST_AUTO_TEST_CASE(resumptions_queued_when_the_io_context_is_destroyed_end_their_spans_as_cancelled) {
  traced t;
  {
    net::io_context io;
    int started = 0;
    for (int i = 0; i < 100; ++i) {
      asio::co_spawn(
          io,
          [&started]() -> net::awaitable<void> {
            auto s = get_tracer().span("posting_forever");
            ++started;
            for (;;) co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
          },
          net::detached);
    }
    for (int i = 0; i < 1000; ++i) io.run_one();
    BOOST_REQUIRE(started == 100);
    io.stop();
  }  // io_context destroyed with one queued resumption per task
  const auto spans = t.spans();
  int cancelled = 0;
  for (const auto& s : spans) {
    if (s.name == "posting_forever") {
      cancelled += s.status == span_status::error && s.status_message == "cancelled" ? 1 : 0;
    }
  }
  BOOST_TEST(cancelled == 100);
  BOOST_TEST(get_tracer().stats().context_mismatches == 0U);
}

BOOST_AUTO_TEST_CASE(a_cancelled_operation_ends_the_span_with_the_error) {
  traced t;
  net::io_context io;
  net::cancellation_signal signal;
  asio::co_spawn(
      io,
      []() -> net::awaitable<void> {
        auto s = get_tracer().span("waits");
        co_await sleep_for(std::chrono::hours(1));
      },
      net::bind_cancellation_slot(signal.slot(), net::detached));
  io.run_for(std::chrono::milliseconds(5));
  signal.emit(net::cancellation_type::terminal);
  io.run();
  const auto spans = t.spans();
  BOOST_REQUIRE(find(spans, "waits") != nullptr);
  BOOST_TEST((find(spans, "waits")->status == span_status::error));
}

BOOST_AUTO_TEST_CASE(without_the_throw_hook_exceptions_are_still_errors_and_named_where_reachable) {
  // This program does not link prela::throw_hook: a scope left by an exception records
  // error status with the type "unknown"; traced() catches, so it names the exception.
  traced t;
  net::io_context io;
  asio::co_spawn(
      io,
      []() -> net::awaitable<void> {
        try {
          auto plain = get_tracer().span("plain scope");
          throw std::out_of_range("index 7");
        } catch (const std::out_of_range&) {
        }
        try {
          co_await asio::traced("traced", span_type::tool, []() -> net::awaitable<void> {
            co_await sleep_for(std::chrono::milliseconds(1));
            throw std::invalid_argument("bad input");
          }());
        } catch (const std::invalid_argument&) {
        }
      },
      net::detached);
  io.run();
  const auto spans = t.spans();
  const span_data* plain = find(spans, "plain scope");
  BOOST_REQUIRE(plain != nullptr);
  BOOST_TEST((plain->status == span_status::error));
  BOOST_TEST(str(plain->attribute("error.type")) == "unknown");
  const span_data* traced_span = find(spans, "traced");
  BOOST_REQUIRE(traced_span != nullptr);
  BOOST_TEST((traced_span->status == span_status::error));
  BOOST_TEST(str(traced_span->attribute("error.type")) == "std::invalid_argument");
  BOOST_TEST(traced_span->status_message == "bad input");
  BOOST_TEST(traced_span->events.size() == 1U);
}

BOOST_AUTO_TEST_CASE(plain_boost_co_spawn_is_reported_not_silent) {
  traced t;
  net::io_context io(2);
  const auto before = get_tracer().stats().context_mismatches;
  // Two plain coroutines interleave on the thread's own context: their scopes end while
  // another flow's span is current. prela still ends each span in its own context and
  // counts the misuse.
  for (int i = 0; i < 2; ++i) {
    net::co_spawn(
        io,
        [i]() -> net::awaitable<void> {
          auto s = get_tracer().span("plain_" + std::to_string(i));
          co_await sleep_for(
              std::chrono::milliseconds(1 + i));  // the first ends while the second is innermost
        },
        net::detached);
  }
  io.run();
  BOOST_TEST(get_tracer().stats().context_mismatches > before);
  BOOST_TEST(t.spans().size() == 2U);
}

BOOST_AUTO_TEST_SUITE_END()
