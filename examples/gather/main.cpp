// Concurrent children in coroutines: prela::asio::gather (both forms) and the && / ||
// operators. Each child runs in its own fork of the context: its spans are children of
// the span current at the call and never see their siblings', on any number of threads.
#include <boost/asio.hpp>

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <prela/asio.hpp>
#include <prela/exporters/console.hpp>
#include <prela/prela.hpp>

namespace net = boost::asio;
using namespace std::chrono_literals;
using namespace prela::asio::awaitable_operators;

namespace {

net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor, d);
  co_await timer.async_wait(net::use_awaitable);
}

net::awaitable<std::string> search(std::string source, std::chrono::milliseconds latency) {
  auto span = prela::get_tracer().span("search " + source, prela::span_type::retrieval);
  co_await sleep_for(latency);
  co_return source + ": 3 hits";
}

net::awaitable<int> score(int document) {
  auto span = prela::get_tracer().span("score", prela::span_type::llm, {{"document", document}});
  co_await sleep_for(std::chrono::milliseconds(1 + document));
  if (document == 3) throw std::runtime_error("model overloaded");
  co_return 10 * document;
}

net::awaitable<void> answer() {
  auto agent = prela::get_tracer().span("answer", prela::span_type::agent);

  // Variadic form: a tuple of results.
  auto [web, docs, wiki] =
      co_await prela::asio::gather(search("web", 4ms), search("docs", 2ms), search("wiki", 3ms));
  agent->set_attribute("sources", web + " | " + docs + " | " + wiki);

  // Vector form, with a failing child: gather waits for all, then rethrows the first
  // exception; the failing child's span has error status.
  std::vector<net::awaitable<int>> scoring;
  for (int d = 1; d <= 4; ++d) scoring.push_back(score(d));
  try {
    co_await prela::asio::gather(std::move(scoring));
  } catch (const std::exception& e) {
    agent->add_event("scoring_failed", {{"reason", e.what()}});
  }

  // || : the first to finish wins; the other is cancelled and its span ends "cancelled".
  auto first = co_await (search("fast cache", 1ms) || search("slow archive", 50ms));
  agent->set_attribute("winner", first.index() == 0 ? "fast cache" : "slow archive");

  // && : both, each in its own fork.
  auto [a, b] = co_await (search("left", 2ms) && search("right", 2ms));
  agent->set_attribute("both", a + " & " + b);
}

}  // namespace

int main() {
  prela::init({.service_name = "gather-example", .exporters = {std::make_shared<prela::console_exporter>()}});
  net::io_context io;
  prela::asio::co_spawn(io, answer(), [](std::exception_ptr e) {
    if (e) std::cerr << "answer failed\n";
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back([&io] { io.run(); });  // children hop threads
  for (auto& t : threads) t.join();
  prela::shutdown();
}
