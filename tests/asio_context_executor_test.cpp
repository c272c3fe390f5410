#define BOOST_TEST_MODULE asio_context_executor
#include <boost/test/unit_test.hpp>

#include "asio_test_support.hpp"

using namespace prela;
using namespace prela::testing;

BOOST_FIXTURE_TEST_SUITE(context_executor_suite, thread_checks)

BOOST_AUTO_TEST_CASE(small_enough_for_any_io_executors_inline_storage) {
  // any_io_executor keeps executors of up to three pointers inline; bigger ones go to
  // the heap on every copy (DESIGN.md: ~20 % slower per resumption). The io_context
  // executor, the common case, fits in all its variants; thread_pool's and strand's
  // executors are bigger themselves (see docs/performance.md).
  using io = net::io_context::executor_type;
  using tracked = std::decay_t<decltype(net::prefer(net::io_context().get_executor(),
                                                    net::execution::outstanding_work.tracked))>;
  BOOST_TEST(sizeof(asio::context_executor<io>) <= 3 * sizeof(void*));
  BOOST_TEST(sizeof(asio::context_executor<tracked>) <= 3 * sizeof(void*));
  BOOST_TEST(sizeof(asio::task_executor<io>) <= 3 * sizeof(void*));
  BOOST_TEST(sizeof(asio::task_executor<tracked>) <= 3 * sizeof(void*));
}

BOOST_AUTO_TEST_CASE(a_task_executor_adds_nothing_to_copies_but_its_reference) {
  // Asio copies, moves and destroys a coroutine's executor several times per
  // resumption: the task's adapter adds no work of its own to any of those (a weak
  // reference is two plain words; docs/performance.md has what that saved).
  using ref = prela::detail::weak_context;
  static_assert(std::is_trivially_copyable_v<ref> && std::is_trivially_destructible_v<ref>);
  struct one_word {
    void* p;
  };
  static_assert(std::is_trivially_copyable_v<asio::task_executor<one_word>>);
  BOOST_TEST(net::execution::is_executor<asio::task_executor<net::io_context::executor_type>>::value);
}

BOOST_AUTO_TEST_CASE(a_task_adapter_does_not_keep_an_ended_context_alive) {
  net::io_context io;
  auto owning = asio::fork(io.get_executor());
  prela::context_ref ctx = prela::detail::fork_current();
  asio::task_executor<net::io_context::executor_type> weak(io.get_executor(),
                                                           prela::detail::weak_context::of(ctx.get()));
  auto copy = weak;  // NOLINT(performance-unnecessary-copy-initialization): copies are tested
  BOOST_TEST(copy.context() == ctx.get());
  ctx.reset();  // the task's frame let go: the context is gone
  BOOST_TEST(copy.context() == nullptr);
  // Work submitted through it still runs, under the running thread's own context.
  bool ran = false;
  trace_context* seen = reinterpret_cast<trace_context*>(1);
  net::post(copy, [&] {
    ran = true;
    seen = prela::detail::peek_context();
  });
  io.run();
  BOOST_TEST(ran);
  BOOST_TEST(seen != reinterpret_cast<trace_context*>(1));
  BOOST_TEST(owning.context() != nullptr);  // fork() adapters own theirs
}

BOOST_AUTO_TEST_CASE(queries_are_forwarded_and_require_keeps_the_context) {
  net::io_context io;
  auto ex = asio::fork(io.get_executor());
  BOOST_TEST(&net::query(ex, net::execution::context) == &io);
  auto never = net::require(ex, net::execution::blocking.never);
  BOOST_TEST(never.context() == ex.context());
  auto tracked = net::prefer(ex, net::execution::outstanding_work.tracked);
  BOOST_TEST(tracked.context() == ex.context());
  BOOST_TEST(
      (net::query(tracked, net::execution::outstanding_work) == net::execution::outstanding_work.tracked));
  auto copy = ex;
  BOOST_TEST((copy == ex));
  auto other = asio::fork(io.get_executor());
  BOOST_TEST((other != ex));  // a fork is a different flow
  // Usable inside any_io_executor, and recoverable from it.
  net::any_io_executor erased = ex;
  BOOST_TEST(erased.target<asio::context_executor<net::io_context::executor_type>>() != nullptr);
  // Converts to the adapter over a converting executor, keeping the context.
  asio::context_executor<net::any_io_executor> widened = ex;
  BOOST_TEST(widened.context() == ex.context());
  asio::task_executor<net::io_context::executor_type> task(io.get_executor(),
                                                           prela::detail::weak_context::of(ex.context()));
  asio::task_executor<net::any_io_executor> widened_task = task;
  BOOST_TEST(widened_task.context() == ex.context());
  BOOST_TEST((net::require(task, net::execution::blocking.never).context() == ex.context()));
}

BOOST_AUTO_TEST_CASE(functions_run_under_the_context_and_the_thread_gets_its_own_back) {
  traced t;
  net::io_context io;
  std::optional<asio::context_executor<net::io_context::executor_type>> ex;
  span_id parent;
  {
    auto s = get_tracer().span("parent");
    parent = s->span_id();
    ex.emplace(asio::fork(io.get_executor()));
  }
  int ran = 0;
  net::post(*ex, [&] {
    ++ran;
    PRELA_THREAD_CHECK(current_span() != nullptr && current_span()->span_id() == parent);
    auto child = get_tracer().span("child");
    PRELA_THREAD_CHECK(child->parent_span_id() == parent);
  });
  auto own = get_tracer().span("runner_thread_span");
  const span* own_span = &*own;
  // A plain handler on the same io_context sees the running thread's own context, not
  // the flow that ran before it.
  net::post(io, [&] {
    ++ran;
    PRELA_THREAD_CHECK(current_span() == own_span);
  });
  io.run();
  BOOST_TEST(ran == 2);
  BOOST_TEST(current_span() == &*own);
}

BOOST_AUTO_TEST_CASE(dispatch_inside_a_flow_runs_inline_under_the_right_context) {
  // An adapter whose context is already installed here, over an executor that runs the
  // function inline, passes it through without a wrapper (the second function of every
  // resumption). Each other case still goes through the wrapper.
  net::io_context io;
  auto a = asio::fork(io.get_executor());
  auto b = asio::fork(io.get_executor());
  std::vector<std::string> order;
  auto seen_is = [](const trace_context* ctx) { return prela::detail::peek_context() == ctx; };
  net::post(a, [&] {
    order.emplace_back("a");
    net::dispatch(a, [&] {  // same flow: inline, same context
      order.emplace_back(seen_is(a.context()) ? "a inline" : "a inline, wrong context");
    });
    net::dispatch(b, [&] {  // another flow: inline, its own context, then a's again
      order.emplace_back(seen_is(b.context()) ? "b inline" : "b inline, wrong context");
    });
    order.emplace_back(seen_is(a.context()) ? "a again" : "a lost");
    net::post(a, [&] {  // blocking.never: queued, and still under a when it runs
      order.emplace_back(seen_is(a.context()) ? "a posted" : "a posted, wrong context");
    });
  });
  io.run();
  const std::vector<std::string> expected{"a", "a inline", "b inline", "a again", "a posted"};
  BOOST_TEST(order == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_stale_task_executor_never_takes_the_context_now_in_its_block) {
  // A task adapter refers to its context weakly. When the task has ended and its block
  // holds another context, installed here, dispatching through the stale adapter must
  // not treat that context as its own.
  net::io_context io;
  prela::context_ref first = prela::detail::fork_current();
  const auto weak = prela::detail::weak_context::of(first.get());
  first.reset();
  prela::context_ref second = prela::detail::fork_current();  // contexts are recycled per thread
  BOOST_TEST_REQUIRE(second.get() == weak.ptr);               // the same block, another generation
  asio::task_executor<net::io_context::executor_type> stale(io.get_executor(), weak);
  const trace_context* seen = nullptr;
  bool inline_run = false;
  net::post(asio::context_executor<net::io_context::executor_type>(io.get_executor(), second), [&] {
    net::dispatch(stale, [&] {
      inline_run = true;
      seen = prela::detail::peek_context();
    });
  });
  io.run();
  BOOST_TEST(inline_run);
  BOOST_TEST(seen != second.get());
}

BOOST_AUTO_TEST_CASE(fork_of_an_adapter_forks_over_the_same_inner_executor) {
  net::io_context io;
  auto a = asio::fork(io.get_executor());
  auto b = asio::fork(a);
  BOOST_TEST((a.get_inner_executor() == b.get_inner_executor()));
  BOOST_TEST(a.context() != b.context());
}

BOOST_AUTO_TEST_SUITE_END()
