#define BOOST_TEST_MODULE asio_scenario
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <map>
#include <random>
#include <set>

#include "asio_test_support.hpp"

using namespace prela;
using namespace prela::testing;
using net::ip::tcp;
// Producer and consumer may run on different threads: the thread-safe channel, shared.
using channel = net::experimental::concurrent_channel<void(boost::system::error_code, int)>;

namespace {

constexpr int coroutines = 1000;

// Echo server: one coroutine per connection, each in its own flow (a root span).
net::awaitable<void> echo_session(tcp::socket socket) {
  auto s = get_tracer().span("echo", span_type::tool);
  const span* mine = &*s;
  char buf[64];
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n =
        co_await socket.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    PRELA_THREAD_CHECK(current_span() == mine);
    if (ec) break;
    co_await net::async_write(socket, net::buffer(buf, n), net::redirect_error(net::use_awaitable, ec));
    PRELA_THREAD_CHECK(current_span() == mine);
    if (ec) break;
  }
}

net::awaitable<void> echo_server(tcp::acceptor& acceptor, int expected) {
  for (int i = 0; i < expected; ++i) {
    tcp::socket socket = co_await acceptor.async_accept(net::use_awaitable);
    PRELA_THREAD_CHECK(current_span() == nullptr);
    asio::co_spawn(acceptor.get_executor(), echo_session(std::move(socket)), net::detached);
  }
}

net::awaitable<int> child_work(int id) {
  auto s = get_tracer().span("grandchild", span_type::llm);
  const span* mine = &*s;
  co_await sleep_for(std::chrono::microseconds(100 * (id % 7)));
  PRELA_THREAD_CHECK(current_span() == mine);
  co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
  PRELA_THREAD_CHECK(current_span() == mine);
  co_return id;
}

net::awaitable<void> producer(std::shared_ptr<channel> ch, int value) {
  auto s = get_tracer().span("producer");
  const span* mine = &*s;
  co_await sleep_for(std::chrono::microseconds(50 * (value % 5)));
  PRELA_THREAD_CHECK(current_span() == mine);
  co_await ch->async_send(boost::system::error_code{}, value, net::use_awaitable);
  PRELA_THREAD_CHECK(current_span() == mine);
}

net::awaitable<void> worker(int id, tcp::endpoint server,
                            net::strand<net::io_context::executor_type> strand) {
  auto root = get_tracer().span("worker", span_type::agent);
  const span* mine = &*root;
  auto check_mine = [&] { PRELA_THREAD_CHECK(current_span() == mine); };
  check_mine();
  {
    auto s = get_tracer().span("timer");
    co_await sleep_for(std::chrono::microseconds(100 * (id % 13)));
    PRELA_THREAD_CHECK(current_span() == &*s);
  }
  check_mine();
  {
    auto s = get_tracer().span("post");
    co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
    PRELA_THREAD_CHECK(current_span() == &*s);
  }
  check_mine();
  {
    auto s = get_tracer().span("child");
    const int r = co_await child_work(id);
    PRELA_THREAD_CHECK(r == id);
    PRELA_THREAD_CHECK(current_span() == &*s);
  }
  check_mine();
  if (id % 2 == 0) {
    auto s = get_tracer().span("tcp", span_type::retrieval);
    tcp::socket socket(co_await net::this_coro::executor);
    co_await socket.async_connect(server, net::use_awaitable);
    PRELA_THREAD_CHECK(current_span() == &*s);
    const std::string msg = "hello " + std::to_string(id);
    co_await net::async_write(socket, net::buffer(msg), net::use_awaitable);
    PRELA_THREAD_CHECK(current_span() == &*s);
    std::string reply(msg.size(), '\0');
    co_await net::async_read(socket, net::buffer(reply), net::use_awaitable);
    PRELA_THREAD_CHECK(current_span() == &*s);
    PRELA_THREAD_CHECK(reply == msg);
  }
  check_mine();
  {
    auto s = get_tracer().span("channel");
    auto ch = std::make_shared<channel>(co_await net::this_coro::executor, 1);
    asio::co_spawn(co_await net::this_coro::executor, producer(ch, id), net::detached);
    const int got = co_await ch->async_receive(net::use_awaitable);
    PRELA_THREAD_CHECK(got == id);
    PRELA_THREAD_CHECK(current_span() == &*s);
  }
  check_mine();
  {
    auto s = get_tracer().span("strand");
    co_await net::post(strand, net::use_awaitable);  // hop through a strand and back
    PRELA_THREAD_CHECK(current_span() == &*s);
    co_await net::dispatch(strand, net::use_awaitable);
    PRELA_THREAD_CHECK(current_span() == &*s);
  }
  check_mine();
}

void run_scenario(int threads) {
  traced t({.max_queue_size = 1 << 16});
  const auto before = get_tracer().stats();
  net::io_context io(threads);
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  const auto endpoint = acceptor.local_endpoint();
  asio::co_spawn(io, echo_server(acceptor, coroutines / 2), net::detached);
  std::atomic<int> plain_handlers{0};
  for (int i = 0; i < coroutines; ++i) {
    auto strand = net::make_strand(io);
    if (i % 4 == 3) {
      asio::co_spawn(strand, worker(i, endpoint, strand), net::detached);  // runs on a strand
    } else {
      asio::co_spawn(io, worker(i, endpoint, strand), net::detached);
    }
    // Plain handlers interleaved with the coroutines see no context.
    net::post(io, [&] {
      PRELA_THREAD_CHECK(current_span() == nullptr);
      ++plain_handlers;
    });
  }
  run_on_threads(io, threads);
  BOOST_TEST(prela::testing::take_thread_failures() == 0);
  BOOST_TEST(plain_handlers.load() == coroutines);

  const auto spans = t.spans();
  const auto after = get_tracer().stats();
  BOOST_TEST(after.context_mismatches == before.context_mismatches);
  BOOST_TEST(after.dropped == before.dropped);
  std::map<span_id, const span_data*> by_id;
  for (const auto& s : spans) by_id[s.span_id] = &s;
  const std::map<std::string, std::string> expected_parent = {
      {"timer", "worker"},   {"post", "worker"},   {"child", "worker"},     {"tcp", "worker"},
      {"channel", "worker"}, {"strand", "worker"}, {"grandchild", "child"}, {"producer", "channel"}};
  int wrong_links = 0;
  int workers = 0;
  int echoes = 0;
  std::set<trace_id> traces;
  for (const auto& s : spans) {
    if (s.name == "worker" || s.name == "echo") {
      wrong_links += s.parent_span_id.is_valid() ? 1 : 0;  // roots
      (s.name == "worker" ? workers : echoes) += 1;
      if (s.name == "worker") traces.insert(s.trace_id);
      continue;
    }
    const auto it = by_id.find(s.parent_span_id);
    if (it == by_id.end() || it->second->trace_id != s.trace_id ||
        it->second->name != expected_parent.at(s.name)) {
      ++wrong_links;
    }
  }
  BOOST_TEST(wrong_links == 0);
  BOOST_TEST(workers == coroutines);
  BOOST_TEST(echoes == coroutines / 2);
  BOOST_TEST(traces.size() == static_cast<std::size_t>(coroutines));  // one trace per worker
  // Per worker: itself, timer, post, child, grandchild, channel, producer, strand (+ tcp).
  BOOST_TEST(spans.size() == static_cast<std::size_t>(coroutines * 8 + coroutines / 2 + coroutines / 2));
}

struct raise_fd_limit {
  raise_fd_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < 4096) {
      r.rlim_cur = std::min<rlim_t>(r.rlim_max, 4096);
      setrlimit(RLIMIT_NOFILE, &r);
    }
  }
};
BOOST_TEST_GLOBAL_FIXTURE(raise_fd_limit);

}  // namespace

BOOST_AUTO_TEST_CASE(a_thousand_coroutines_on_one_thread) { run_scenario(1); }

BOOST_AUTO_TEST_CASE(a_thousand_coroutines_on_four_threads) { run_scenario(4); }
