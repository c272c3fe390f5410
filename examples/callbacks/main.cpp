// Callback-style Asio (no coroutines): prela::asio::bind_context(handler) makes a
// completion handler run under the context current when the operation started, on
// whichever thread completes it. Without it, a handler runs with that thread's own
// context: its spans land in no trace or in someone else's.
#include <boost/asio.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <prela/asio.hpp>
#include <prela/exporters/console.hpp>
#include <prela/prela.hpp>

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

// A composed operation (async_compose): two timer waits in a row, as a library might
// offer. Asio runs its first step inline, in the initiating code's context; every later
// step runs through the completion handler's executor, so bind_context on the token
// covers them. Spans are therefore opened after each wait, not before the first one.
template <class Token>
auto async_fetch_twice(net::steady_timer& timer, Token&& token) {
  return net::async_compose<Token, void(boost::system::error_code)>(
      [&timer, step = 0](auto& self, boost::system::error_code ec = {}) mutable {
        if (step > 0) {
          auto attempt =
              prela::get_tracer().span("fetch attempt " + std::to_string(step), prela::span_type::retrieval);
          attempt->set_attribute("ok", !ec);
        }
        if (ec || step == 2) return self.complete(ec);
        ++step;
        timer.expires_after(2ms);
        timer.async_wait(std::move(self));
      },
      token, timer);
}

void handle_request(net::io_context& io, int id) {
  // Each request its own trace context; the request span lives until the last callback.
  auto flow = prela::new_trace_context();
  auto request = std::make_shared<prela::span_handle>(
      prela::get_tracer().start_span("request " + std::to_string(id), prela::span_type::agent));
  auto timer = std::make_shared<net::steady_timer>(io, 3ms);

  // Right: the handler gets this request's context back when the timer fires, on
  // whichever io thread runs it.
  timer->async_wait(prela::asio::bind_context([timer, request, id](boost::system::error_code) {
    { auto parse = prela::get_tracer().span("parse", prela::span_type::tool, {{"request", id}}); }

    // Chained: the next operation is started inside that context, bound again.
    async_fetch_twice(*timer, prela::asio::bind_context([timer, request](boost::system::error_code) {
      { auto respond = prela::get_tracer().span("respond", prela::span_type::custom); }
      request->end();  // a handle may end on any thread, in any callback
    }));
  }));
}

}  // namespace

int main() {
  prela::init(
      {.service_name = "callbacks-example", .exporters = {std::make_shared<prela::console_exporter>()}});
  net::io_context io;

  for (int id = 1; id <= 2; ++id) handle_request(io, id);

  // Wrong, for contrast: an unbound handler runs with the io thread's own context.
  {
    auto flow = prela::new_trace_context();
    auto span = prela::get_tracer().span("request 3 (unbound handler)", prela::span_type::agent);
    auto timer = std::make_shared<net::steady_timer>(io, 1ms);
    timer->async_wait([timer](boost::system::error_code) {
      auto lost = prela::get_tracer().span("lost step (a separate trace)", prela::span_type::tool);
    });
  }

  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  prela::shutdown();
}
