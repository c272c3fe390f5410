// agent_server_untraced: the demo's agent service compiled with PRELA_INSTRUMENTATION=0,
// the floor of the demo's cost-of-tracing table. The same service code as agent_server,
// where every prela call is a no-op: what the server costs with no tracing in it at all.
//
//   agent_server_untraced THREADS MODEL_WORK
//
// Prints the port it listens on (127.0.0.1, a free port), then serves until its standard
// input reaches end of file: agent_server starts it with a pipe, and its end (or death)
// stops this server too.
#include <boost/asio.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <prela/prela.hpp>

#include "agent_service.hpp"
#include "parse_number.hpp"

static_assert(!prela::instrumented,
              "agent_server_untraced links the core built with PRELA_INSTRUMENTATION=0");

namespace {
namespace net = boost::asio;

int number(const char* text, int min, int max) {
  const std::optional<int> value = demo::parse_number(std::string_view(text), min, max);
  if (!value) {
    std::cerr << "agent_server_untraced: '" << text << "' is not a number from " << min << " to " << max
              << '\n';
    std::exit(2);
  }
  return *value;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: agent_server_untraced THREADS MODEL_WORK (run by agent_server)\n";
    return 2;
  }
  const int threads = number(argv[1], 1, 256);
  const int model_work = number(argv[2], 0, 1'000'000);

  net::io_context io;
  net::thread_pool model_pool{2};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
  demo::agent_service service(io, model_pool, {.port = 0, .model_work = model_work});
  service.start();
  std::cout << service.port() << std::endl;
  std::vector<std::thread> runners;
  for (int i = 0; i < threads; ++i) runners.emplace_back([&io] { io.run(); });

  while (std::getchar() != EOF) {
  }
  service.stop();
  work.reset();
  io.stop();  // connections the load left open end with the process
  for (auto& t : runners) t.join();
  model_pool.join();
  return 0;
}
