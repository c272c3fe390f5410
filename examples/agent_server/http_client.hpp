// Keep-alive HTTP/1.1 client pieces shared by the load generator and the agent's
// internal calls: a connection, one request/response exchange with the current trace
// context injected, and a small pool of idle connections.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <prela/propagation.hpp>

namespace demo {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct http_connection {
  tcp::socket socket;
  boost::beast::flat_buffer buffer;

  explicit http_connection(tcp::socket s) : socket(std::move(s)) {}
};

/// Connects to 127.0.0.1:port with a socket on `ex`.
inline net::awaitable<http_connection> connect(net::any_io_executor ex, unsigned short port) {
  tcp::socket socket(std::move(ex));
  co_await socket.async_connect({net::ip::address_v4::loopback(), port}, net::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  co_return http_connection(std::move(socket));
}

/// POSTs `body` to `target` on `c` with the current span's context and baggage in the
/// headers (traceparent, tracestate, baggage, X-Trace-ID/X-Span-ID), and reads the answer.
inline net::awaitable<http::response<http::string_body>> post(http_connection& c, std::string target,
                                                              std::string body) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "text/plain");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  prela::inject(req.base());
  co_await http::async_write(c.socket, req, net::use_awaitable);
  http::response<http::string_body> res;
  co_await http::async_read(c.socket, c.buffer, res, net::use_awaitable);
  co_return res;
}

/// Idle keep-alive connections to one port, shared by every thread of an io_context.
/// Sockets are made on the io_context's own executor, not on the executor of the task
/// that happens to open them: a pooled connection outlives that task and serves others.
class connection_pool {
 public:
  connection_pool(net::any_io_executor ex, unsigned short port) : ex_(std::move(ex)), port_(port) {}

  /// An idle connection, or a new one.
  net::awaitable<http_connection> acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        http_connection c = std::move(idle_.back());
        idle_.pop_back();
        co_return c;
      }
    }
    co_return co_await connect(ex_, port_);
  }

  /// Returns a connection that completed its exchange cleanly.
  void release(http_connection c) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
  }

  /// One exchange on a pooled connection. A kept-alive connection the server closed in
  /// the meantime is replaced once by a fresh one.
  net::awaitable<http::response<http::string_body>> post(std::string target, std::string body) {
    for (int attempt = 0;; ++attempt) {
      http_connection c = co_await acquire();
      std::optional<http::response<http::string_body>> res;
      try {
        res = co_await demo::post(c, target, body);
      } catch (const boost::system::system_error&) {
        if (attempt > 0) throw;
        continue;
      }
      if (res->keep_alive()) release(std::move(c));
      co_return std::move(*res);
    }
  }

  void clear() {
    std::lock_guard lock(mu_);
    idle_.clear();
  }

 private:
  net::any_io_executor ex_;
  unsigned short port_;
  std::mutex mu_;
  std::vector<http_connection> idle_;
};

}  // namespace demo
