#define BOOST_TEST_MODULE coro
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <coroutine>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "prela/coro.hpp"
#include "prela/inflight.hpp"
#include "test_support.hpp"

using namespace prela;
using prela::testing::find;
using prela::testing::traced;

namespace {

// A minimal eager fire-and-forget task type: not asio::awaitable, so it needs preserve().
struct task {
  struct promise_type {
    task get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

// A scheduler whose queue is drained by whichever thread calls run_all().
struct scheduler {
  std::mutex mu;
  std::deque<std::coroutine_handle<>> ready;

  struct schedule_awaiter {
    scheduler* s;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      std::lock_guard lock(s->mu);
      s->ready.push_back(h);
    }
    void await_resume() const noexcept {}
  };
  schedule_awaiter schedule() { return {this}; }

  void run_all() {
    for (;;) {
      std::coroutine_handle<> h;
      {
        std::lock_guard lock(mu);
        if (ready.empty()) return;
        h = ready.front();
        ready.pop_front();
      }
      saved_context keep;  // the resumed coroutine's context must not stay installed
      h.resume();
    }
  }
};

task worker(scheduler& sched, int id) {
  // Half of them start a trace of their own; it must survive every suspension.
  std::optional<context_scope> own_trace;
  if (id % 2 == 0) own_trace.emplace(new_trace_context());
  const auto expected_trace = own_trace ? own_trace->trace_id() : trace_id();
  auto outer = get_tracer().span("outer_" + std::to_string(id));
  PRELA_THREAD_CHECK(!own_trace || outer->trace_id() == expected_trace);
  const span* mine = &*outer;
  for (int step = 0; step < 5; ++step) {
    co_await preserve(sched.schedule());
    PRELA_THREAD_CHECK(current_span() == mine);
    auto inner = get_tracer().span("inner");
    PRELA_THREAD_CHECK(inner->parent_span_id() == mine->span_id());
    co_await preserve(sched.schedule());
    PRELA_THREAD_CHECK(current_span() == &*inner);
  }
}

// Takes the live view from inside the coroutine, after a resumption through preserve.
task snapshot_after_resume(scheduler& sched, std::vector<inflight_span>& seen) {
  auto s = get_tracer().span("resumed_through_preserve");
  co_await preserve(sched.schedule());
  seen = inflight();
}

}  // namespace

BOOST_AUTO_TEST_CASE(preserve_restores_the_awaiting_coroutines_context_on_any_thread) {
  traced t;
  scheduler sched;
  // Start 50 concurrent coroutines. Concurrency begins at a spawn, so each starts under
  // a fork of its own (as prela::asio::co_spawn does for Asio).
  for (int i = 0; i < 50; ++i) {
    bind_context([&, i] { worker(sched, i); })();
  }
  // Resume them from two other threads, each of which has a span of its own open.
  std::vector<std::thread> resumers;
  for (int r = 0; r < 2; ++r) {
    resumers.emplace_back([&] {
      auto own = get_tracer().span("resumer");
      while (true) {
        sched.run_all();
        PRELA_THREAD_CHECK(current_span() == &*own);
        std::lock_guard lock(sched.mu);
        if (sched.ready.empty()) break;
      }
    });
  }
  for (auto& th : resumers) th.join();
  sched.run_all();
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  const auto spans = t.spans();
  BOOST_TEST(spans.size() == 50U * 6U + 2U);
  for (const auto& s : spans) {
    if (s.name != "inner") continue;
    bool parent_found = false;
    for (const auto& p : spans) {
      if (p.span_id == s.parent_span_id) {
        parent_found = p.name.rfind("outer_", 0) == 0 && p.trace_id == s.trace_id;
        break;
      }
    }
    BOOST_REQUIRE(parent_found);
  }
}

BOOST_AUTO_TEST_CASE(without_preserve_the_resumers_context_leaks_in) {
  // The "wrong" variant: a plain co_await resumes under whatever context the resuming
  // thread has, which is why preserve (and prela::asio for Asio) exist.
  traced t;
  scheduler sched;
  std::atomic<bool> saw_foreign{false};
  auto plain = [&]() -> task {
    auto s = get_tracer().span("plain");
    const span* mine = &*s;
    co_await sched.schedule();
    saw_foreign = current_span() != mine;
  };
  {
    auto ctx = new_trace_context();
    plain();
  }
  std::thread([&] {
    auto other = get_tracer().span("other");
    sched.run_all();
  }).join();
  BOOST_TEST(saw_foreign.load());
}

BOOST_AUTO_TEST_CASE(a_coroutine_resumed_through_preserve_shows_as_running_in_the_live_view) {
  traced t;
  scheduler sched;
  std::vector<inflight_span> seen;
  bind_context([&] { snapshot_after_resume(sched, seen); })();  // a flow of its own
  std::thread([&] { sched.run_all(); }).join();                 // resumed on another thread
  const auto it = std::find_if(seen.begin(), seen.end(),
                               [](const inflight_span& s) { return s.name == "resumed_through_preserve"; });
  BOOST_REQUIRE(it != seen.end());
  BOOST_TEST(it->running);
}

namespace {
// An awaiter that completes at once (await_suspend returns false) and records which
// object was awaited and how it was copied or moved.
struct probe_awaiter {
  const probe_awaiter** awaited;
  int* copies;
  int* moves;
  probe_awaiter(const probe_awaiter** a, int* c, int* m) : awaited(a), copies(c), moves(m) {}
  probe_awaiter(const probe_awaiter& o) : awaited(o.awaited), copies(o.copies), moves(o.moves) { ++*copies; }
  probe_awaiter(probe_awaiter&& o) noexcept : awaited(o.awaited), copies(o.copies), moves(o.moves) {
    ++*moves;
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<>) const noexcept {
    *awaited = this;
    return false;
  }
  int await_resume() const noexcept { return 7; }
};

// An awaitable whose operator co_await hands out a reference to an awaiter it owns.
struct owning_awaitable {
  probe_awaiter inner;
  probe_awaiter& operator co_await() & { return inner; }
};

task await_lvalue(probe_awaiter& a, int& result) { result = co_await preserve(a); }
task await_rvalue(probe_awaiter a, int& result) { result = co_await preserve(std::move(a)); }
task await_owning(owning_awaitable& a, int& result) { result = co_await preserve(a); }
}  // namespace

// preserve() awaits what a plain co_await would: an lvalue awaiter in place, an rvalue
// one moved in once and never copied, and the very object an operator co_await returns.
BOOST_AUTO_TEST_CASE(preserve_awaits_the_same_object_a_plain_co_await_would) {
  const probe_awaiter* awaited = nullptr;
  int copies = 0;
  int moves = 0;
  int result = 0;
  probe_awaiter lvalue(&awaited, &copies, &moves);
  await_lvalue(lvalue, result);
  BOOST_TEST(awaited == &lvalue);
  BOOST_TEST(copies == 0);
  BOOST_TEST(moves == 0);
  BOOST_TEST(result == 7);

  moves = 0;
  await_rvalue(probe_awaiter(&awaited, &copies, &moves), result);
  BOOST_TEST(copies == 0);
  BOOST_TEST(moves <= 2);  // into the coroutine's parameter, then once into preserve

  owning_awaitable owner{probe_awaiter(&awaited, &copies, &moves)};
  copies = 0;
  await_owning(owner, result);
  BOOST_TEST(awaited == &owner.inner);
  BOOST_TEST(copies == 0);
}
