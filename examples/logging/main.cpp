// Log lines that carry the trace: three requests served concurrently by coroutines on
// two threads, logging through spdlog as they hop between threads. Every line shows the
// trace and span id of the coroutine that wrote it, so a log search for one trace id
// finds exactly that request's lines, and the warning also appears in the trace as an
// event on the span that logged it.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include <prela/asio.hpp>
#include <prela/exporters/console.hpp>
#include <prela/prela.hpp>
#include <prela/spdlog.hpp>

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

net::awaitable<void> handle(int id, std::shared_ptr<spdlog::logger> log) {
  auto request = prela::get_tracer().span("request " + std::to_string(id), prela::span_type::agent);
  log->info("request {} accepted", id);
  net::steady_timer timer(co_await net::this_coro::executor);
  {
    auto lookup = prela::get_tracer().span("lookup", prela::span_type::retrieval);
    timer.expires_after(std::chrono::milliseconds(5 * (3 - id)));  // the requests interleave
    co_await timer.async_wait(net::use_awaitable);                 // and may resume on another thread
    log->info("lookup for request {} done", id);
    if (id == 2) log->warn("request {}: cache miss, served from the origin", id);
  }
  log->info("request {} answered", id);
}

}  // namespace

int main() {
  prela::init(
      {.service_name = "logging-example", .exporters = {std::make_shared<prela::console_exporter>()}});

  // A synchronous spdlog logger (spdlog's default) with prela's flags: %* the trace id,
  // %~ the span id. The second sink turns warnings into events on the current span.
  auto log = std::make_shared<spdlog::logger>(
      "app", spdlog::sinks_init_list{std::make_shared<spdlog::sinks::stdout_sink_mt>(),
                                     std::make_shared<prela::spdlog_span_event_sink_mt>()});
  log->set_formatter(prela::spdlog_formatter("[%l] trace=%* span=%~ %v"));

  log->info("starting (no span yet: the ids are empty)");
  net::io_context io(2);
  for (int id = 1; id <= 3; ++id) prela::asio::co_spawn(io, handle(id, log), net::detached);
  std::thread second([&io] { io.run(); });
  io.run();
  second.join();
  log->info("done");
  std::cout.flush();
  prela::shutdown();  // the console exporter prints the three traces
}
