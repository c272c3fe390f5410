#define BOOST_TEST_MODULE asio_gather
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "asio_test_support.hpp"

using namespace prela;
using namespace prela::testing;
using namespace prela::asio::awaitable_operators;

namespace {

// A child that opens a span, sleeps, and reports what it saw as current afterwards.
// `depth`: the spans open in its context with its own, 1 when it runs in a flow of its
// own (siblings' spans are not on its stack).
net::awaitable<int> child(std::string name, int ms, std::size_t depth = 1) {
  auto s = get_tracer().span(name, span_type::tool);
  const span* mine = &*s;
  PRELA_THREAD_CHECK(get_trace_context().depth() == depth);
  co_await sleep_for(std::chrono::milliseconds(ms));
  PRELA_THREAD_CHECK(current_span() == mine);
  set_baggage("child", name);  // never visible to the parent or siblings
  co_return ms;
}

net::awaitable<void> void_child(std::string name) { co_await child(std::move(name), 1); }

net::awaitable<int> failing(std::string name, int ms) {
  auto s = get_tracer().span(name, span_type::tool);
  co_await sleep_for(std::chrono::milliseconds(ms));
  PRELA_THREAD_CHECK(current_span() == &*s);
  throw std::runtime_error(name + " failed");
}

template <class F>
std::vector<span_data> run(F make, int threads = 2) {
  traced t;
  net::io_context io;
  asio::co_spawn(io, make(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  run_on_threads(io, threads);
  return t.spans();
}

void expect_children_of(const std::vector<span_data>& spans, const std::string& parent,
                        std::initializer_list<const char*> names) {
  const span_data* p = find(spans, parent);
  BOOST_REQUIRE(p != nullptr);
  for (const char* n : names) {
    const span_data* c = find(spans, n);
    BOOST_REQUIRE_MESSAGE(c != nullptr, n);
    BOOST_TEST((c->parent_span_id == p->span_id), n);
    BOOST_TEST((c->trace_id == p->trace_id), n);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(variadic_gather_isolates_siblings_and_parents_them) {
  std::tuple<int, int, std::monostate> result;
  const auto spans = run([&]() -> net::awaitable<void> {
    auto parent = get_tracer().span("parent", span_type::agent);
    set_baggage("parent", "yes");
    result = co_await asio::gather(child("a", 3), child("b", 1), void_child("c"));
    PRELA_THREAD_CHECK(current_span() == &*parent);
    PRELA_THREAD_CHECK(get_trace_context().depth() == 1);
    PRELA_THREAD_CHECK(!get_baggage("child").has_value());
    PRELA_THREAD_CHECK(get_baggage("parent") == "yes");
    auto after = get_tracer().span("after");
    PRELA_THREAD_CHECK(after->parent_span_id() == parent->span_id());
  });
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(std::get<0>(result) == 3);
  BOOST_TEST(std::get<1>(result) == 1);
  expect_children_of(spans, "parent", {"a", "b", "c", "after"});
}

BOOST_AUTO_TEST_CASE(vector_gather) {
  std::vector<int> result;
  const auto spans = run([&]() -> net::awaitable<void> {
    auto parent = get_tracer().span("parent");
    std::vector<net::awaitable<int>> children;
    for (int i = 0; i < 20; ++i) children.push_back(child("v" + std::to_string(i), i % 4));
    result = co_await asio::gather(std::move(children));
    std::vector<net::awaitable<void>> voids;
    voids.push_back(void_child("void_a"));
    voids.push_back(void_child("void_b"));
    co_await asio::gather(std::move(voids));
    co_await asio::gather(std::vector<net::awaitable<void>>{});  // empty: completes at once
    PRELA_THREAD_CHECK(current_span() == &*parent);
  });
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_REQUIRE(result.size() == 20U);
  for (int i = 0; i < 20; ++i) BOOST_TEST(result[static_cast<std::size_t>(i)] == i % 4);  // input order
  expect_children_of(spans, "parent", {"v0", "v7", "v19", "void_a", "void_b"});
}

BOOST_AUTO_TEST_CASE(gather_rethrows_the_first_failure_after_all_children_finish) {
  bool caught = false;
  const auto spans = run([&]() -> net::awaitable<void> {
    auto parent = get_tracer().span("parent");
    try {
      // Far apart: on two threads, two timers that have both expired by the time a
      // loaded machine gets to them complete in either order.
      co_await asio::gather(child("slow_ok", 80), failing("fails_first", 1), failing("fails_later", 50));
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "fails_first failed";
    }
    PRELA_THREAD_CHECK(current_span() == &*parent);
  });
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(caught);
  // All children ran to completion before the rethrow: the slow one's span is there.
  BOOST_REQUIRE(find(spans, "slow_ok") != nullptr);
  BOOST_TEST((find(spans, "slow_ok")->status == span_status::unset));
  for (const char* n : {"fails_first", "fails_later"}) {
    BOOST_TEST((find(spans, n)->status == span_status::error));
    BOOST_TEST(str(find(spans, n)->attribute("error.type")) == "std::runtime_error");
  }
}

BOOST_AUTO_TEST_CASE(and_operator_forks_each_operand) {
  int total = 0;
  const auto spans = run([&]() -> net::awaitable<void> {
    auto parent = get_tracer().span("parent");
    auto [x, y] = co_await (child("left", 2) && child("right", 1));
    const int z = co_await (void_child("void_left") && child("int_right", 1));
    auto [p, q, r] = co_await (child("one", 1) && child("two", 1) && child("three", 1));
    total = x + y + z + p + q + r;
    PRELA_THREAD_CHECK(current_span() == &*parent);
  });
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(total == 2 + 1 + 1 + 3);
  expect_children_of(spans, "parent", {"left", "right", "void_left", "int_right"});
  // (one && two) is itself an operand: its operands are children of the parent's flow.
  BOOST_TEST((find(spans, "three")->parent_span_id == find(spans, "parent")->span_id));
  BOOST_TEST((find(spans, "one")->trace_id == find(spans, "parent")->trace_id));
}

BOOST_AUTO_TEST_CASE(and_operator_cancels_the_other_operand_on_failure) {
  bool caught = false;
  const auto spans = run([&]() -> net::awaitable<void> {
    try {
      co_await (failing("fails", 1) && child("cancelled_by_failure", 1000));
    } catch (const boost::asio::multiple_exceptions& e) {
      // As with Asio's operator&&: the cancelled operand failed too (operation aborted);
      // the first exception is the original failure.
      try {
        std::rethrow_exception(e.first_exception());
      } catch (const std::runtime_error& first) {
        caught = std::string(first.what()) == "fails failed";
      }
    }
  });
  BOOST_TEST(caught);
  BOOST_TEST((find(spans, "cancelled_by_failure")->status == span_status::error));
  BOOST_TEST(find(spans, "cancelled_by_failure")->status_message == "cancelled");
}

BOOST_AUTO_TEST_CASE(or_operator_cancels_the_loser_and_its_span_ends_as_cancelled) {
  std::size_t winner = 99;
  int value = 0;
  const auto spans = run([&]() -> net::awaitable<void> {
    auto parent = get_tracer().span("parent");
    auto result = co_await (child("loser", 1000) || child("winner", 2));
    winner = result.index();
    value = std::get<1>(result);
    auto three = co_await (child("a", 1000) || child("b", 1000) || void_child("c"));
    PRELA_THREAD_CHECK(three.index() == 2);  // flattened, as Asio's operators do
    PRELA_THREAD_CHECK(current_span() == &*parent);
  });
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(winner == 1U);
  BOOST_TEST(value == 2);
  const span_data* loser = find(spans, "loser");
  BOOST_REQUIRE(loser != nullptr);
  BOOST_TEST((loser->status == span_status::error));
  BOOST_TEST(loser->status_message == "cancelled");
  BOOST_TEST(str(loser->attribute("error.type")) == "cancelled");
  BOOST_TEST((find(spans, "winner")->status == span_status::unset));
  expect_children_of(spans, "parent", {"loser", "winner", "a", "b", "c"});
}

BOOST_AUTO_TEST_CASE(traced_wraps_an_awaitable_in_a_span) {
  bool caught = false;
  const auto spans = run([&]() -> net::awaitable<void> {
    auto parent = get_tracer().span("parent");
    // traced() runs the awaitable in this flow: parent, wrapped and inner are open in it.
    const int r = co_await asio::traced("wrapped", span_type::retrieval, child("inner", 1, 3));
    PRELA_THREAD_CHECK(r == 1);
    try {
      co_await asio::traced("wrapped_failure", span_type::tool, failing("inner_failure", 1));
    } catch (const std::runtime_error&) {
      caught = true;
    }
  });
  BOOST_TEST(caught);
  expect_children_of(spans, "parent", {"wrapped", "wrapped_failure"});
  expect_children_of(spans, "wrapped", {"inner"});
  BOOST_TEST((find(spans, "wrapped")->type == span_type::retrieval));
  const span_data* failure = find(spans, "wrapped_failure");
  BOOST_TEST((failure->status == span_status::error));
  BOOST_TEST(str(failure->attribute("error.type")) == "std::runtime_error");
  // traced() records the exception and the scope (with the throw hook linked here)
  // does not record it a second time.
  BOOST_TEST(std::count_if(failure->events.begin(), failure->events.end(),
                           [](const span_event& e) { return e.name == "exception"; }) == 1);
}
