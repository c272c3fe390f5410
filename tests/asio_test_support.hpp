// Helpers for the Asio scenario tests.
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "prela/asio.hpp"
#include "test_support.hpp"

namespace net = boost::asio;

namespace prela::testing {

/// Runs an io_context on n threads until it has no more work.
inline void run_on_threads(net::io_context& io, int n) {
  const hang_watchdog watchdog("run_on_threads");
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
}

inline net::awaitable<void> sleep_for(std::chrono::microseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::use_awaitable);
}

}  // namespace prela::testing

namespace prela::testing {

/// What the exported spans of a run look like as trees.
struct forest {
  std::size_t spans = 0;
  std::size_t roots = 0;
  std::size_t orphans = 0;              // parent id not among the exported spans
  std::size_t cross_trace_parents = 0;  // parent exported, but in another trace
  std::size_t max_depth = 0;            // 1 for a root
  std::map<span_id, const span_data*> by_id;

  /// The parent's name, or "" for a root or an orphan.
  std::string parent_name(const span_data& s) const {
    auto it = by_id.find(s.parent_span_id);
    return it == by_id.end() ? std::string() : it->second->name;
  }
};

inline forest read_forest(const std::vector<span_data>& spans) {
  forest f;
  f.spans = spans.size();
  for (const auto& s : spans) f.by_id[s.span_id] = &s;
  for (const auto& s : spans) {
    if (!s.parent_span_id.is_valid()) {
      ++f.roots;
    } else if (auto it = f.by_id.find(s.parent_span_id); it == f.by_id.end()) {
      ++f.orphans;
    } else if (it->second->trace_id != s.trace_id) {
      ++f.cross_trace_parents;
    }
    std::size_t depth = 1;
    for (const span_data* p = &s; p->parent_span_id.is_valid() && depth < 10000; ++depth) {
      auto it = f.by_id.find(p->parent_span_id);
      if (it == f.by_id.end()) break;
      p = it->second;
    }
    f.max_depth = std::max(f.max_depth, depth);
  }
  return f;
}

/// Every span started in a run was ended, and every ended one exported or dropped.
inline bool balanced(const tracer_stats& before, const tracer_stats& after) {
  const auto started = after.started - before.started;
  const auto ended = after.ended - before.ended;
  const auto delivered = (after.exported - before.exported) + (after.dropped - before.dropped);
  return started == ended && ended == delivered;
}

/// A client for the echo-style servers: `connections` connections at once, each
/// sending `messages` messages and reading each echo back, on its own io_context and
/// thread (untraced). Returns the number of echoes received.
inline int run_echo_clients(net::ip::tcp::endpoint server, int connections, int messages) {
  net::io_context io;
  std::atomic<int> echoes{0};
  for (int c = 0; c < connections; ++c) {
    net::co_spawn(
        io,
        [&, c]() -> net::awaitable<void> {
          net::ip::tcp::socket socket(io);
          co_await socket.async_connect(server, net::use_awaitable);
          for (int m = 0; m < messages; ++m) {
            char out[16] = {};
            std::snprintf(out, sizeof out, "c%03d m%03d", c % 1000, m % 1000);
            co_await net::async_write(socket, net::buffer(out), net::use_awaitable);
            char in[16];
            co_await net::async_read(socket, net::buffer(in), net::use_awaitable);
            if (std::memcmp(in, out, sizeof out) == 0) ++echoes;
          }
        },
        net::detached);
  }
  io.run_for(std::chrono::seconds(60));
  return echoes.load();
}

/// A callback-style echo session (the session class of Asio's echo examples): reads
/// 16 bytes, opens a "message" span, starts the write back inside it (so a session that
/// nested its handlers would show it), reads again, until the peer closes.
class callback_echo_session : public std::enable_shared_from_this<callback_echo_session> {
 public:
  explicit callback_echo_session(net::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    net::async_read(socket_, net::buffer(data_),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      if (ec) return;
                      auto s = get_tracer().span("message", span_type::tool);
                      self->write();
                    });
  }
  void write() {
    net::async_write(socket_, net::buffer(data_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (!ec) self->read();
                     });
  }

  net::ip::tcp::socket socket_;
  char data_[16] = {};
};

}  // namespace prela::testing
