// The demo's HTTP service: an "AI agent" endpoint and the retrieval endpoint it calls.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

#include "http_client.hpp"

namespace demo {

struct service_options {
  unsigned short port = 0;  ///< 0: any free port
  /// Work units of the simulated model per request, done on the model pool. A unit is
  /// a fixed amount of hashing (about a microsecond), not a sleep: it costs real CPU.
  int model_work = 300;
  /// Every n-th request's run_code tool fails (0: never).
  int fail_every = 8;
};

/// POST /agent   an agent request: retrieval over HTTP, three tools at once, a model call
/// POST /retrieve the retrieval "service" the agent calls, on the same server
///
/// Each connection is a task (prela::asio::co_spawn) reading requests in a keep-alive
/// loop; each request is a child task of its own, so that the trace and baggage it
/// continues from the headers never outlive it.
class agent_service {
 public:
  agent_service(net::io_context& io, net::thread_pool& model_pool, service_options options);
  ~agent_service();

  /// Starts accepting (on the io_context's threads).
  void start();
  /// Stops accepting; open connections end after their current request.
  void stop();

  [[nodiscard]] unsigned short port() const;
  [[nodiscard]] std::uint64_t requests_served() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace demo
