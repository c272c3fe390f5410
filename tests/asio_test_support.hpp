// Helpers for the Asio scenario tests.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "prela/asio.hpp"
#include "test_support.hpp"

namespace net = boost::asio;

namespace prela::testing {

/// Runs an io_context on n threads until it has no more work.
inline void run_on_threads(net::io_context& io, int n) {
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
}

/// Counts violations found on any thread (Boost.Test is not thread-safe).
struct violations {
  std::atomic<int> count{0};
  void check(bool ok) {
    if (!ok) ++count;
  }
};

inline net::awaitable<void> sleep_for(std::chrono::microseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::use_awaitable);
}

}  // namespace prela::testing
