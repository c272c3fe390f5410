// A program built with PRELA_INSTRUMENTATION=0 (linked with the core built the same
// way): every prela call compiles and runs, does nothing, and costs nothing it need not.
#define BOOST_TEST_MODULE noop_build
#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include <prela/asio.hpp>
#include <prela/exporters/memory.hpp>
#include <prela/prela.hpp>

static_assert(!prela::instrumented);

namespace net = boost::asio;
using prela::get_tracer;
using prela::span_type;

namespace {

// The memory exporter of an init() that a build without instrumentation ignores.
std::shared_ptr<prela::memory_exporter> init_with_memory() {
  auto memory = std::make_shared<prela::memory_exporter>();
  prela::init({.service_name = "noop", .exporters = {memory}});
  return memory;
}

const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

}  // namespace

BOOST_AUTO_TEST_CASE(spans_are_inert_and_never_exported) {
  const auto memory = init_with_memory();
  {
    auto outer = get_tracer().span("outer", span_type::agent, {{"k", 1}});
    outer->set_attribute("a", "b");
    outer->add_event("event", {{"n", 2}});
    outer->set_status(prela::span_status::error, "bad");
    outer->record_exception(std::runtime_error("x"));
    BOOST_TEST(prela::current_span() == nullptr);
    BOOST_TEST(!prela::current_trace_id().has_value());
    BOOST_TEST(!outer->trace_id().is_valid());
    BOOST_TEST(!outer->is_sampled());

    auto handle = get_tracer().start_span("handle", span_type::tool);
    handle->end();  // ends nothing: the inert span stays open for every other scope
    handle.end();
    BOOST_TEST(!handle->is_ended());
    BOOST_TEST(&*handle == &*outer);
  }
  try {
    auto failing = get_tracer().span("failing");
    throw std::runtime_error("left by an exception");
  } catch (const std::runtime_error&) {
  }
  BOOST_TEST(prela::force_flush());
  BOOST_TEST(memory->spans().empty());
  const auto stats = get_tracer().stats();
  BOOST_TEST(stats.started == 0U);
  BOOST_TEST(stats.ended == 0U);
  BOOST_TEST(stats.mutations_after_end == 0U);
  BOOST_TEST(stats.context_mismatches == 0U);
  BOOST_TEST(prela::inflight().empty());
  const auto fields = prela::current_log_fields();
  BOOST_TEST(fields.trace_id.empty());
  BOOST_TEST(fields.span_id.empty());
  BOOST_TEST(prela::shutdown());
}

BOOST_AUTO_TEST_CASE(init_still_rejects_invalid_options) {
  BOOST_CHECK_THROW(prela::init({.max_queue_size = 0}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(headers_are_neither_read_nor_written_and_baggage_is_not_kept) {
  const std::map<std::string, std::string> incoming{{"traceparent", traceparent}, {"baggage", "user=alice"}};
  const prela::remote_context remote = prela::extract(incoming);
  BOOST_TEST(!remote.is_valid());
  BOOST_TEST(remote.baggage.empty());

  auto span = get_tracer().span("server", span_type::agent, remote);
  prela::set_baggage("user", "bob");
  BOOST_TEST(!prela::get_baggage("user").has_value());
  {
    auto scope = prela::new_trace_context({.baggage = {{"tenant", "t1"}}});
    BOOST_TEST(prela::get_trace_context().baggage().empty());
    BOOST_TEST(!prela::current_trace_id().has_value());
  }

  // A carrier keeps what it had: inject writes and removes nothing.
  std::map<std::string, std::string> outgoing{{"traceparent", "stale"}, {"accept", "*/*"}};
  prela::inject(outgoing);
  BOOST_TEST(outgoing.size() == 2U);
  BOOST_TEST(outgoing.at("traceparent") == "stale");
  int set_calls = 0;
  prela::inject([&](std::string_view, std::string_view) { ++set_calls; });
  BOOST_TEST(set_calls == 0);
}

BOOST_AUTO_TEST_CASE(the_wrappers_return_what_they_wrap) {
  auto f = [] { return 7; };
  static_assert(std::is_same_v<decltype(prela::copy_context_to_thread(f)), decltype(f)>);
  std::thread t(prela::copy_context_to_thread([] { BOOST_TEST(prela::current_span() == nullptr); }));
  t.join();

  auto handler = [](boost::system::error_code) {};
  static_assert(std::is_same_v<decltype(prela::asio::bind_context(handler)), decltype(handler)>);
  static_assert(std::is_same_v<decltype(prela::asio::bind_context(net::use_awaitable)),
                               std::decay_t<decltype(net::use_awaitable)>>);
  static_assert(
      std::is_same_v<decltype(prela::preserve(std::declval<net::awaitable<int>>())), net::awaitable<int>>);
  static_assert(
      std::is_same_v<decltype(prela::preserve(std::declval<net::awaitable<int>&>())), net::awaitable<int>&>);
}

BOOST_AUTO_TEST_CASE(asio_code_runs_as_plain_asio) {
  net::io_context io;
  int result = 0;
  std::string order;
  auto child = [&](int v) -> net::awaitable<int> {
    auto s = get_tracer().span("child", span_type::tool);
    net::steady_timer timer(co_await net::this_coro::executor, std::chrono::milliseconds(1));
    co_await timer.async_wait(prela::asio::bind_context(net::use_awaitable));
    co_return v;
  };
  prela::asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto request = get_tracer().span("request", span_type::agent);
        // A plain co_spawn: the coroutine's executor is the io_context's own.
        const auto ex = co_await net::this_coro::executor;
        BOOST_TEST((ex.target<net::io_context::executor_type>() != nullptr));
        const int one = co_await prela::asio::co_spawn(ex, child(1), net::use_awaitable);
        auto [two, three] = co_await prela::asio::gather(child(2), child(3));
        const int four = co_await prela::preserve(child(4));
        const int five = co_await prela::asio::traced("five", span_type::llm, child(5));
        using namespace prela::asio::awaitable_operators;
        auto [six, seven] = co_await (child(6) && child(7));
        // The loser is cancelled (its timer never fires) with no context to mark.
        net::steady_timer never(ex, std::chrono::hours(1));
        const auto first = co_await (child(8) || never.async_wait(net::use_awaitable));
        const int eight = std::get<0>(first);
        result = one + two + three + four + five + six + seven + eight;
        order += "done";
      },
      [&](std::exception_ptr e) { order += e ? " failed" : " completed"; });
  io.run();
  BOOST_TEST(result == 36);
  BOOST_TEST(order == "done completed");
}
