#define BOOST_TEST_MODULE context
#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "prela/detail/flow.hpp"
#include "test_support.hpp"

using namespace prela;
using prela::testing::find;
using prela::testing::traced;

namespace {

// A minimal fixed-size thread pool, like the ThreadPoolExecutor of the seed's examples.
class thread_pool {
 public:
  explicit thread_pool(int n) {
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }
  ~thread_pool() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  template <class F>
  auto submit(F f) {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto result = task->get_future();
    {
      std::lock_guard lock(mu_);
      jobs_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return result;
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return done_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool done_ = false;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(context_suite, prela::testing::thread_checks)

// --- The context stack -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(nothing_is_current_outside_spans) {
  std::thread([] {
    PRELA_THREAD_CHECK(current_span() == nullptr);
    PRELA_THREAD_CHECK(!current_trace_id().has_value());
  }).join();
}

BOOST_AUTO_TEST_CASE(nested_scopes_form_a_stack) {
  traced t;
  {
    auto agent = get_tracer().span("agent", span_type::agent);
    BOOST_TEST(current_span() == &*agent);
    BOOST_TEST((current_trace_id() == agent->trace_id()));
    {
      auto llm = get_tracer().span("llm", span_type::llm);
      BOOST_TEST(current_span() == &*llm);
      BOOST_TEST((llm->parent_span_id() == agent->span_id()));
      BOOST_TEST((llm->trace_id() == agent->trace_id()));
      BOOST_TEST(get_trace_context().depth() == 2U);
    }
    BOOST_TEST(current_span() == &*agent);
    auto tool = get_tracer().span("tool", span_type::tool);
    BOOST_TEST((tool->parent_span_id() == agent->span_id()));
  }
  BOOST_TEST(current_span() == nullptr);
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 3U);
  BOOST_TEST((find(spans, "llm")->parent_span_id == find(spans, "agent")->span_id));
  BOOST_TEST((find(spans, "tool")->parent_span_id == find(spans, "agent")->span_id));
}

BOOST_AUTO_TEST_CASE(each_root_starts_its_own_trace) {
  traced t;
  trace_id first;
  {
    auto a = get_tracer().span("first");
    first = a->trace_id();
  }
  {
    auto b = get_tracer().span("second");
    BOOST_TEST((b->trace_id() != first));
  }
}

BOOST_AUTO_TEST_CASE(start_span_handles_ended_out_of_order_remove_exactly_their_span) {
  traced t;
  auto a = get_tracer().start_span("a");
  auto b = get_tracer().start_span("b");
  auto c = get_tracer().start_span("c");
  BOOST_TEST(current_span() == &*c);
  b.end();  // not the innermost
  BOOST_TEST(current_span() == &*c);
  BOOST_TEST(get_trace_context().depth() == 2U);
  c.end();
  BOOST_TEST(current_span() == &*a);  // b is gone, a is back
  auto d = get_tracer().start_span("d");
  BOOST_TEST((d->parent_span_id() == a->span_id()));
  d.end();
  a.end();
  a.end();  // twice: ends once
  BOOST_TEST(current_span() == nullptr);
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 4U);
  BOOST_TEST((find(spans, "b")->parent_span_id == find(spans, "a")->span_id));
  BOOST_TEST((find(spans, "c")->parent_span_id == find(spans, "b")->span_id));  // links kept
}

// The pattern handles are for: an operation started inside a request that completes
// after the request's scope has ended.
BOOST_AUTO_TEST_CASE(a_scope_ending_below_open_handles_makes_its_previous_span_current) {
  traced t;
  const auto mismatches = get_tracer().stats().context_mismatches;
  auto outer = get_tracer().span("outer");
  std::optional<span_handle> op;
  std::optional<span_handle> op2;
  {
    auto request = get_tracer().span("request");
    op.emplace(get_tracer().start_span("async_op"));
    op2.emplace(get_tracer().start_span("async_op2"));
    BOOST_TEST(current_span() == &**op2);
  }
  // As the scope ended: the span current before it is current again, and the handles,
  // still open, are no longer on the stack. Not a nesting error.
  BOOST_TEST(current_span() == &*outer);
  BOOST_TEST(get_trace_context().depth() == 1U);
  BOOST_TEST(get_tracer().stats().context_mismatches == mismatches);
  BOOST_TEST(!(*op)->is_ended());
  {
    auto next = get_tracer().span("next");
    BOOST_TEST((next->parent_span_id() == outer->span_id()));
  }
  op2->end();
  op->end();
  BOOST_TEST(current_span() == &*outer);
  const auto spans = t.spans();
  BOOST_TEST((find(spans, "async_op")->parent_span_id == find(spans, "request")->span_id));
  BOOST_TEST((find(spans, "async_op2")->parent_span_id == find(spans, "async_op")->span_id));
  BOOST_TEST(get_tracer().stats().context_mismatches == mismatches);
}

// A scope ending below another open scope is still a nesting error (two flows sharing
// one context, or a scope moved out of its block).
BOOST_AUTO_TEST_CASE(a_scope_ending_below_another_scope_is_counted) {
  traced t;
  const auto mismatches = get_tracer().stats().context_mismatches;
  std::optional<span_scope> a;
  a.emplace(get_tracer().span("a"));
  auto b = get_tracer().span("b");
  a.reset();
  BOOST_TEST(get_tracer().stats().context_mismatches == mismatches + 1);
  BOOST_TEST(current_span() == &*b);  // only a was removed
}

BOOST_AUTO_TEST_CASE(a_handle_destroyed_without_end_ends_the_span) {
  traced t;
  { auto h = get_tracer().start_span("implicit"); }
  BOOST_TEST(current_span() == nullptr);
  BOOST_TEST(t.spans().size() == 1U);
}

BOOST_AUTO_TEST_CASE(scopes_and_handles_are_movable) {
  traced t;
  std::vector<span_handle> handles;
  handles.push_back(get_tracer().start_span("one"));
  handles.push_back(get_tracer().start_span("two"));
  span_scope s = get_tracer().span("three");
  span_scope moved = std::move(s);
  BOOST_TEST(current_span()->name() == "three");
}

// --- Threads -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(copy_context_to_thread_parents_worker_spans) {
  traced t;
  thread_pool pool(2);
  trace_id trace;
  span_id parent;
  {
    auto request = get_tracer().span("request", span_type::agent);
    trace = request->trace_id();
    parent = request->span_id();
    std::vector<std::future<std::string>> results;
    for (int i = 0; i < 4; ++i) {
      results.push_back(pool.submit(copy_context_to_thread([i] {
        PRELA_THREAD_CHECK(current_span() != nullptr);  // the captured parent
        auto s = get_tracer().span("worker_" + std::to_string(i), span_type::tool);
        return std::string(s->name());
      })));
    }
    for (auto& r : results) r.get();
  }
  const auto spans = t.spans();
  for (int i = 0; i < 4; ++i) {
    const span_data* w = find(spans, "worker_" + std::to_string(i));
    BOOST_REQUIRE(w != nullptr);
    BOOST_TEST((w->trace_id == trace));
    BOOST_TEST((w->parent_span_id == parent));
  }
}

BOOST_AUTO_TEST_CASE(wrong_without_copy_the_worker_has_no_context) {
  traced t;
  thread_pool pool(1);
  trace_id trace;
  {
    auto request = get_tracer().span("request");
    trace = request->trace_id();
    pool.submit([] {
          PRELA_THREAD_CHECK(current_span() == nullptr);
          auto orphan = get_tracer().span("orphan");
        })
        .get();
  }
  const auto spans = t.spans();
  BOOST_TEST(!find(spans, "orphan")->parent_span_id.is_valid());
  BOOST_TEST((find(spans, "orphan")->trace_id != trace));
}

BOOST_AUTO_TEST_CASE(wrong_wrapping_before_the_context_exists_gives_no_context) {
  traced t;
  thread_pool pool(1);
  auto wrapped_too_early = copy_context_to_thread([] {
    PRELA_THREAD_CHECK(current_span() == nullptr);
    auto s = get_tracer().span("early");
  });
  trace_id trace;
  {
    auto request = get_tracer().span("request");
    trace = request->trace_id();
    pool.submit(wrapped_too_early).get();
  }
  const auto spans = t.spans();
  BOOST_TEST(!find(spans, "early")->parent_span_id.is_valid());
  BOOST_TEST((find(spans, "early")->trace_id != trace));
}

BOOST_AUTO_TEST_CASE(worker_changes_never_leak_back_and_the_thread_context_is_restored) {
  traced t;
  thread_pool pool(1);
  // The worker thread has a context of its own before and after running our task.
  pool.submit([] { set_baggage("worker.own", "yes"); }).get();
  {
    auto request = get_tracer().span("request");
    set_baggage("user_id", "42");
    pool.submit(copy_context_to_thread([] {
          PRELA_THREAD_CHECK(get_baggage("user_id").value_or("") == "42");
          PRELA_THREAD_CHECK(!get_baggage("worker.own").has_value());
          set_baggage("from_worker", "x");
          set_baggage("user_id", "changed");
          auto open = get_tracer().start_span("left_open_in_worker");
          open.end();
        }))
        .get();
    BOOST_TEST(!get_baggage("from_worker").has_value());
    BOOST_TEST(get_baggage("user_id").value_or("") == "42");
    BOOST_TEST(current_span() == &*request);
  }
  pool.submit([] {
        PRELA_THREAD_CHECK(get_baggage("worker.own").value_or("") == "yes");
        PRELA_THREAD_CHECK(!get_baggage("user_id").has_value());
        PRELA_THREAD_CHECK(current_span() == nullptr);
      })
      .get();
}

BOOST_AUTO_TEST_CASE(every_invocation_gets_its_own_fork) {
  traced t;
  thread_pool pool(2);
  {
    auto request = get_tracer().span("request");
    auto task = copy_context_to_thread([](int i) {
      PRELA_THREAD_CHECK(get_trace_context().depth() == 0U);  // siblings never see each other's spans
      auto s = get_tracer().span("sibling");
      set_baggage("i", std::to_string(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      PRELA_THREAD_CHECK(get_baggage("i").value_or("") == std::to_string(i));
      return i * 2;
    });
    auto copy = task;  // copyable when f is
    std::vector<std::future<int>> results;
    for (int i = 0; i < 8; ++i) results.push_back(pool.submit([task, i] { return task(i); }));
    BOOST_TEST(copy(21) == 42);  // also inline, on this thread
    for (int i = 0; i < 8; ++i) BOOST_TEST(results[static_cast<std::size_t>(i)].get() == i * 2);
    BOOST_TEST(current_span() == &*request);
  }
  const auto spans = t.spans();
  const span_data* request = find(spans, "request");
  int siblings = 0;
  for (const auto& s : spans) {
    if (s.name != "sibling") continue;
    ++siblings;
    BOOST_TEST((s.parent_span_id == request->span_id));
  }
  BOOST_TEST(siblings == 9);
}

BOOST_AUTO_TEST_CASE(a_fork_keeps_its_parent_alive_after_the_parent_ended) {
  traced t;
  std::function<void()> late;
  span_id parent_id;
  {
    auto parent = get_tracer().span("parent");
    parent_id = parent->span_id();
    late = copy_context_to_thread([] {
      span* p = current_span();
      PRELA_THREAD_CHECK(p != nullptr);
      if (p == nullptr) return;
      PRELA_THREAD_CHECK(p->is_ended());
      p->set_attribute("late", true);  // counted no-op
      auto child = get_tracer().span("late_child");
    });
  }
  const auto before = get_tracer().stats().mutations_after_end;
  std::thread(late).join();
  BOOST_TEST(get_tracer().stats().mutations_after_end == before + 1);
  const auto spans = t.spans();
  BOOST_TEST((find(spans, "late_child")->parent_span_id == parent_id));
}

BOOST_AUTO_TEST_CASE(a_handle_started_in_a_worker_may_end_on_another_thread) {
  traced t;
  const auto mismatches = get_tracer().stats().context_mismatches;
  std::optional<span_handle> handle;
  {
    auto request = get_tracer().span("request");
    std::thread(copy_context_to_thread([&] { handle.emplace(get_tracer().start_span("async_op")); })).join();
  }
  handle->end();  // here, long after the worker's fork is gone: a normal end
  const auto spans = t.spans();
  const span_data* op = find(spans, "async_op");
  BOOST_REQUIRE(op != nullptr);
  BOOST_TEST((op->status == span_status::unset));
  BOOST_TEST((op->parent_span_id == find(spans, "request")->span_id));
  BOOST_TEST(get_tracer().stats().context_mismatches == mismatches);
}

// A handle of the outer trace ended on another thread while a new_trace_context scope
// is open: a span of the inner trace takes the count of foreign ends (and scans only
// the inner stack), so restoring the outer trace must still find the ended handle.
BOOST_AUTO_TEST_CASE(a_handle_ended_elsewhere_during_an_inner_trace_is_gone_when_it_ends) {
  traced t;
  auto request = get_tracer().span("request");
  auto op = get_tracer().start_span("async_op");
  {
    auto inner = new_trace_context();
    std::thread([&] { op.end(); }).join();
    auto s = get_tracer().span("inner work");
    BOOST_TEST(current_span() == &*s);
  }
  BOOST_TEST(current_span() == &*request);
  BOOST_TEST(get_trace_context().depth() == 1U);
  auto next = get_tracer().span("next");
  BOOST_TEST((next->parent_span_id() == request->span_id()));
}

// The case of an asynchronous operation whose completion runs on a worker thread: the
// handle is ended there, after the flow that started it has moved on.
BOOST_AUTO_TEST_CASE(a_handle_ended_on_another_thread_leaves_the_flow_as_it_was) {
  traced t;
  auto request = get_tracer().span("request");
  auto op = get_tracer().start_span("async_op");
  BOOST_TEST(current_span() == &*op);
  std::thread([&] { op.end(); }).join();
  // The end happened before this point (join): the flow no longer sees the span.
  BOOST_TEST(current_span() == &*request);
  BOOST_TEST(get_trace_context().depth() == 1U);
  {
    auto next = get_tracer().span("next");
    BOOST_TEST((next->parent_span_id() == request->span_id()));
    BOOST_TEST(get_trace_context().depth() == 2U);
  }
  BOOST_TEST(current_span() == &*request);
}

// The data race this guards against: ending a handle takes it off its flow's span stack
// while that flow keeps pushing and popping spans on another thread. Run under the tsan
// preset; the parent checks hold in every build.
BOOST_AUTO_TEST_CASE(handles_end_on_a_worker_while_their_flow_keeps_opening_spans) {
  traced t;
  const auto before = get_tracer().stats();
  constexpr int handles = 20000;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<span_handle> queue;
  bool done = false;
  std::thread worker([&] {
    for (;;) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done || !queue.empty(); });
      if (queue.empty()) return;
      span_handle h = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      h.end();
    }
  });
  {
    auto request = get_tracer().span("request");
    for (int i = 0; i < handles; ++i) {
      span_handle h = get_tracer().start_span("op");
      const span_id op_id = h->span_id();
      {
        auto inner = get_tracer().span("inner");
        PRELA_THREAD_CHECK(inner->parent_span_id() == h->span_id());
        PRELA_THREAD_CHECK(current_span() == &*inner);
      }
      {
        std::lock_guard lock(mu);
        queue.push_back(std::move(h));
      }
      cv.notify_one();
      // Whether or not the worker has ended it yet: the handle, or once it has ended,
      // the request.
      auto after = get_tracer().span("after");
      PRELA_THREAD_CHECK(after->parent_span_id() == op_id || after->parent_span_id() == request->span_id());
      PRELA_THREAD_CHECK(current_span() == &*after);
    }
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_one();
    worker.join();
    BOOST_TEST(current_span() == &*request);
    BOOST_TEST(get_trace_context().depth() == 1U);
  }
  BOOST_TEST(current_span() == nullptr);
  BOOST_TEST(get_trace_context().depth() == 0U);
  const auto after = get_tracer().stats();
  BOOST_TEST(after.started - before.started == std::uint64_t{1 + 3 * handles});
  BOOST_TEST(after.ended - before.ended == after.started - before.started);
  BOOST_TEST(after.context_mismatches == before.context_mismatches);
}

// A handle whose trace (new_trace_context) is already over when it ends elsewhere.
BOOST_AUTO_TEST_CASE(a_handle_ended_elsewhere_after_its_trace_scope_ended) {
  traced t;
  std::optional<span_handle> handle;
  {
    auto scope = new_trace_context();
    handle.emplace(get_tracer().start_span("outlives_its_trace"));
  }
  BOOST_TEST(current_span() == nullptr);
  std::thread([&] { handle->end(); }).join();
  handle.reset();
  BOOST_TEST(current_span() == nullptr);
  auto next = get_tracer().span("next");
  BOOST_TEST(!next->parent_span_id().is_valid());
  BOOST_TEST(find(t.spans(), "outlives_its_trace") != nullptr);
}

BOOST_AUTO_TEST_CASE(bind_context_is_an_alias_and_results_pass_through) {
  traced t;
  auto s = get_tracer().span("s");
  auto f = bind_context(
      [](std::string a, int b) { return a + std::to_string(b) + std::string(current_span()->name()); });
  BOOST_TEST(std::async(std::launch::async, f, "x", 1).get() == "x1s");
  auto move_only = bind_context([p = std::make_unique<int>(5)] { return *p; });
  BOOST_TEST(std::move(move_only)() == 5);
}

// --- Baggage -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(baggage_basics) {
  std::thread([] {
    PRELA_THREAD_CHECK(!get_baggage("k").has_value());
    PRELA_THREAD_CHECK(!remove_baggage("k"));
    set_baggage("user_id", "u-1");
    set_baggage("tenant", "acme");
    set_baggage("user_id", "u-2");
    PRELA_THREAD_CHECK(get_baggage("user_id").value() == "u-2");
    PRELA_THREAD_CHECK(get_trace_context().get_baggage("tenant").value() == "acme");
    const auto all = get_trace_context().baggage();
    PRELA_THREAD_CHECK(all.size() == 2U);
    PRELA_THREAD_CHECK(all.get("tenant") == "acme");
    PRELA_THREAD_CHECK(remove_baggage("tenant"));
    PRELA_THREAD_CHECK(!get_baggage("tenant").has_value());
    get_trace_context().clear_baggage();
    PRELA_THREAD_CHECK(get_trace_context().baggage().empty());
  }).join();
}

BOOST_AUTO_TEST_CASE(setting_many_entries_at_once_merges_with_what_is_there) {
  std::thread([] {
    set_baggage("b", "old");
    set_baggage("d", "kept");
    auto& ctx = get_trace_context();
    ctx.set_baggage(std::map<std::string, std::string>{{"a", "1"}, {"b", "new"}, {"c", "3"}, {"e", "5"}});
    const std::map<std::string, std::string> expected{
        {"a", "1"}, {"b", "new"}, {"c", "3"}, {"d", "kept"}, {"e", "5"}};
    PRELA_THREAD_CHECK(ctx.baggage() == expected);
    // Still sorted: single-key lookups, updates and removals find every entry.
    for (const auto& [k, v] : expected) PRELA_THREAD_CHECK(get_baggage(k).value_or("") == v);
    set_baggage("c", "33");
    PRELA_THREAD_CHECK(remove_baggage("e"));
    PRELA_THREAD_CHECK(remove_baggage("a"));
    PRELA_THREAD_CHECK(
        (ctx.baggage() == std::map<std::string, std::string>{{"b", "new"}, {"c", "33"}, {"d", "kept"}}));
    ctx.set_baggage(std::map<std::string, std::string>{});
    PRELA_THREAD_CHECK(ctx.baggage().size() == 3U);
  }).join();
}

BOOST_AUTO_TEST_CASE(a_baggage_value_is_sorted_unique_and_shares_its_entries) {
  const prela::baggage b{{"tenant", "acme"}, {"plan", "free"}, {"region", "eu"}, {"plan", "pro"}};
  BOOST_TEST(b.size() == 3U);  // "plan" twice: the last value wins
  BOOST_TEST(!b.empty());
  std::vector<std::string> order;
  for (const auto& [key, value] : b) {
    const std::string_view k = key;
    const std::string_view v = value;
    order.push_back(std::string(k) + "=" + std::string(v));
  }
  BOOST_TEST((order == std::vector<std::string>{"plan=pro", "region=eu", "tenant=acme"}));
  BOOST_TEST((b.get("plan") == "pro"));
  BOOST_TEST(!b.get("absent").has_value());
  BOOST_TEST(b.contains("region"));
  BOOST_TEST(!b.contains("Region"));
  BOOST_TEST((b.to_map() ==
              std::map<std::string, std::string>{{"plan", "pro"}, {"region", "eu"}, {"tenant", "acme"}}));

  const prela::baggage from_map(
      std::map<std::string, std::string>{{"tenant", "acme"}, {"plan", "pro"}, {"region", "eu"}});
  BOOST_TEST((from_map == b));
  BOOST_TEST(!(from_map == prela::baggage{{"tenant", "acme"}}));
  BOOST_TEST((prela::baggage{} == prela::baggage(std::map<std::string, std::string>{})));
  BOOST_TEST(prela::baggage{}.empty());
  BOOST_TEST((prela::baggage{}.begin() == prela::baggage{}.end()));

  // Copies share the entries: the views of one stay valid through the other.
  const prela::baggage copy = b;  // NOLINT(performance-unnecessary-copy-initialization)
  BOOST_TEST(&*copy.begin() == &*b.begin());
  BOOST_TEST(static_cast<const void*>(copy.get("tenant")->data()) ==
             static_cast<const void*>(b.get("tenant")->data()));

  // A context's baggage() shares its entries too, until the context changes them.
  std::thread([] {
    set_baggage("k", "v");
    const prela::baggage first = get_trace_context().baggage();
    const prela::baggage second = get_trace_context().baggage();
    PRELA_THREAD_CHECK(&*first.begin() == &*second.begin());
    set_baggage("k", "changed");
    PRELA_THREAD_CHECK(first.get("k") == "v");  // a value: later changes do not show
    PRELA_THREAD_CHECK(get_trace_context().baggage().get("k") == "changed");
    // Setting a whole baggage on a context without one shares it.
    get_trace_context().clear_baggage();
    const prela::baggage given{{"a", "1"}};
    get_trace_context().set_baggage(given);
    PRELA_THREAD_CHECK(&*get_trace_context().baggage().begin() == &*given.begin());
    PRELA_THREAD_CHECK(get_baggage("a") == "1");
  }).join();
}

BOOST_AUTO_TEST_CASE(baggage_is_visible_in_nested_spans_and_forks) {
  traced t;
  auto root = get_tracer().span("root");
  set_baggage("request_id", "r-9");
  auto child = get_tracer().span("child");
  BOOST_TEST(get_baggage("request_id").value() == "r-9");
  auto f = copy_context_to_thread([] { return get_baggage("request_id").value_or(""); });
  set_baggage("request_id", "changed after the fork");
  BOOST_TEST(std::async(std::launch::async, f).get() == "r-9");
}

// --- new_trace_context -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(new_trace_context_isolates_and_restores) {
  traced t;
  auto outer = get_tracer().span("outer");
  set_baggage("outer", "1");
  const trace_id outer_trace = outer->trace_id();
  const auto given = trace_id::from_hex("0af7651916cd43dd8448eb211c80319c").value();
  {
    auto ctx = new_trace_context({.trace_id = given, .baggage = {{"job", "nightly"}}});
    BOOST_TEST(current_span() == nullptr);
    BOOST_TEST((current_trace_id() == given));
    BOOST_TEST(!get_baggage("outer").has_value());
    BOOST_TEST(get_baggage("job").value() == "nightly");
    auto a = get_tracer().span("a");
    BOOST_TEST(!a->parent_span_id().is_valid());  // a root of that trace
    BOOST_TEST((a->trace_id() == given));
    auto b = get_tracer().span("b");
    BOOST_TEST((b->parent_span_id() == a->span_id()));
  }
  {
    auto ctx = new_trace_context();
    BOOST_TEST(ctx.trace_id().is_valid());
    BOOST_TEST((ctx.trace_id() != outer_trace));
    auto r1 = get_tracer().span("r1");
    BOOST_TEST((r1->trace_id() == ctx.trace_id()));
  }
  BOOST_TEST(current_span() == &*outer);
  BOOST_TEST((current_trace_id() == outer_trace));
  BOOST_TEST(get_baggage("outer").value() == "1");
  BOOST_TEST(!get_baggage("job").has_value());
}

BOOST_AUTO_TEST_CASE(new_trace_context_unsampled) {
  traced t;
  {
    auto ctx = new_trace_context({.sampled = false});
    BOOST_TEST(!get_trace_context().is_sampled());
    auto s = get_tracer().span("not_sampled");
    BOOST_TEST(!s->is_sampled());
    auto child = get_tracer().span("child");
    BOOST_TEST(!child->is_sampled());
  }
  BOOST_TEST(t.spans().empty());
}

// --- Pinning: scopes end in the context they were created in ---------------------

BOOST_AUTO_TEST_CASE(a_scope_destroyed_on_another_thread_pops_its_own_context) {
  traced t;
  std::optional<span_scope> scope;
  context_ref origin;
  std::thread([&] {
    scope.emplace(get_tracer().span("made_elsewhere"));
    origin = context_ref(&get_trace_context());
  }).join();
  BOOST_TEST(origin->depth() == 1U);
  auto mine = get_tracer().span("mine");
  const auto mismatches = get_tracer().stats().context_mismatches;
  scope.reset();  // destroyed here, under this thread's context
  BOOST_TEST(get_tracer().stats().context_mismatches == mismatches + 1);
  BOOST_TEST(origin->depth() == 0U);
  BOOST_TEST(current_span() == &*mine);  // this thread's stack untouched
  BOOST_TEST(get_trace_context().depth() == 1U);
}

// A thread's own context is kept alive by its thread and by the scopes and handles
// opened on it, which pin it without a locked instruction while they end on that thread
// (detail::context_pin). The three tests below follow the context's block generation
// (weak_context) through the other endings: after the thread's exit, on another thread
// while it lives, and in the thread's own exit after prela's cleanup there.
BOOST_AUTO_TEST_CASE(scopes_outliving_their_thread_keep_its_context_until_the_last_ends) {
  traced t;
  std::optional<span_scope> scope;
  std::optional<span_handle> handle;
  detail::weak_context weak;
  std::thread([&] {
    scope.emplace(get_tracer().span("scope_made_there"));
    handle.emplace(get_tracer().start_span("handle_made_there"));
    weak = detail::weak_context::of(&get_trace_context());
  }).join();
  BOOST_REQUIRE(weak.get() != nullptr);  // the thread is gone; its scope and handle pin it
  BOOST_TEST(weak.get()->depth() == 2U);
  handle->end();
  BOOST_REQUIRE(weak.get() != nullptr);  // still pinned by the scope
  BOOST_TEST(weak.get()->depth() == 1U);
  scope.reset();
  BOOST_TEST(weak.get() == nullptr);  // the last pin let it go
  const auto spans = t.spans();
  const span_data* outer = find(spans, "scope_made_there");
  const span_data* inner = find(spans, "handle_made_there");
  BOOST_REQUIRE(outer != nullptr);
  BOOST_REQUIRE(inner != nullptr);
  BOOST_TEST((inner->parent_span_id == outer->span_id));
}

BOOST_AUTO_TEST_CASE(handles_ended_elsewhere_while_their_thread_lives_let_its_context_go_at_exit) {
  traced t;
  constexpr int n = 1000;
  std::vector<span_handle> handles;
  std::promise<void> opened;
  std::promise<void> ended;
  detail::weak_context weak;
  std::thread opener([&, done = ended.get_future()]() mutable {
    auto root = get_tracer().span("root");
    for (int i = 0; i < n; ++i) handles.push_back(get_tracer().start_span("op"));
    weak = detail::weak_context::of(&get_trace_context());
    opened.set_value();
    done.wait();  // the handles end on the main thread meanwhile
    // The pins released elsewhere are off the count; this thread's own come and go.
    for (int i = 0; i < 3; ++i) {
      auto s = get_tracer().span("after");
      PRELA_THREAD_CHECK(s->parent_span_id() == root->span_id());
    }
  });
  opened.get_future().wait();
  for (auto& h : handles) h.end();
  ended.set_value();
  opener.join();
  BOOST_TEST(weak.get() == nullptr);  // nothing pins it after its thread's exit
  handles.clear();
  BOOST_TEST(t.spans().size() == static_cast<std::size_t>(n) + 4U);
}

BOOST_AUTO_TEST_CASE(a_handle_ended_in_its_threads_exit_after_prelas_cleanup_there) {
  traced t;
  struct holder {
    std::optional<span_handle> handle;
  };
  detail::weak_context weak;
  std::thread([&] {
    // Constructed before prela's first use on this thread, so destroyed after prela's
    // thread-exit cleanup has let go of the thread's context.
    static thread_local holder held;
    held.handle.emplace(get_tracer().start_span("ended_at_exit"));
    weak = detail::weak_context::of(&get_trace_context());
  }).join();
  BOOST_TEST(weak.get() == nullptr);
  BOOST_TEST(find(t.spans(), "ended_at_exit") != nullptr);
}

// A new_trace_context() scope moved to another thread and destroyed there: putting the
// previous trace back from that thread would race with the flow's own. It is dropped,
// counted and reported; the flow goes on in the new trace, and nothing it holds is
// touched from the other thread.
BOOST_AUTO_TEST_CASE(a_trace_scope_ended_in_another_flow_restores_nothing_and_is_counted) {
  traced t;
  std::optional<span_scope> outer(get_tracer().span("outer"));
  std::optional<context_scope> inner(new_trace_context());
  const trace_id inner_trace = inner->trace_id();
  auto handle = get_tracer().start_span("in_new_trace");
  const auto before = get_tracer().stats().context_mismatches;
  std::thread([&] { inner.reset(); }).join();
  BOOST_TEST(get_tracer().stats().context_mismatches == before + 1);
  BOOST_TEST((current_trace_id() == inner_trace));  // this flow's state was left alone
  BOOST_TEST(current_span() == &*handle);
  handle.end();
  {
    auto next = get_tracer().span("next");
    BOOST_TEST((next->trace_id() == inner_trace));
  }
  outer.reset();  // its entry went with the dropped state: ends, counted as out of place
  BOOST_TEST(get_tracer().stats().context_mismatches == before + 2);
  const auto spans = t.spans();
  BOOST_TEST(find(spans, "outer") != nullptr);
  BOOST_TEST(find(spans, "in_new_trace") != nullptr);
}

BOOST_AUTO_TEST_CASE(after_shutdown_spans_still_nest_and_are_dropped_and_counted) {
  { traced t; }  // init, then shutdown
  const auto before = get_tracer().stats();
  {
    auto a = get_tracer().span("a");
    auto b = get_tracer().span("b");
    BOOST_TEST((b->parent_span_id() == a->span_id()));
    BOOST_TEST(current_span() == &*b);
  }
  const auto after = get_tracer().stats();
  BOOST_TEST(after.started - before.started == 2U);
  BOOST_TEST(after.ended - before.ended == 2U);
  BOOST_TEST(after.dropped - before.dropped == 2U);
  BOOST_TEST(after.exported == before.exported);
}

BOOST_AUTO_TEST_SUITE_END()
