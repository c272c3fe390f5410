// One trace across two processes: a client injects its context into HTTP headers, a
// server extracts it and continues the trace.
//
//   distributed                 starts the server as a child process, runs the client
//                               against it, and checks that the server continued the
//                               client's traces
//   distributed server [--requests N] [--notify-fd FD]
//   distributed client PORT [--requests N]
//
// Each process exports its own spans (console, and <service>.jsonl in the current
// directory); a backend such as Jaeger joins them by trace id.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <prela/asio.hpp>
#include <prela/exporters/console.hpp>
#include <prela/exporters/jsonl.hpp>
#include <prela/prela.hpp>
#include <prela/propagation.hpp>

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

void init_tracing(const std::string& service) {
  prela::init({.service_name = service,
               .exporters = {std::make_shared<prela::console_exporter>(),
                             std::make_shared<prela::jsonl_exporter>(service + ".jsonl")}});
}

// ---- server ------------------------------------------------------------------------

net::awaitable<void> serve_one(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> req;
  co_await http::async_read(socket, buffer, req, net::use_awaitable);
  std::string body;
  {
    // Continue the caller's trace: W3C traceparent/tracestate/baggage, or the
    // X-Trace-ID/X-Span-ID pair; neither present (or invalid) starts a new trace.
    const prela::remote_context remote = prela::extract(req.base());
    auto span = prela::get_tracer().span("GET /inventory", prela::span_type::tool, remote);
    net::steady_timer timer(co_await net::this_coro::executor, std::chrono::milliseconds(2));
    co_await timer.async_wait(net::use_awaitable);
    {
      auto lookup = prela::get_tracer().span("lookup_stock", prela::span_type::retrieval);
      lookup->set_attribute("user.id", prela::get_baggage("user.id").value_or("anonymous"));
    }
    // Tell the client what this side saw, so that it can check the join.
    body = "trace_id=" + span->trace_id().to_hex() + " parent_span_id=" + span->parent_span_id().to_hex() +
           " user.id=" + prela::get_baggage("user.id").value_or("anonymous");
  }
  http::response<http::string_body> res{http::status::ok, 11};
  res.body() = body;
  res.keep_alive(false);
  res.prepare_payload();
  co_await http::async_write(socket, res, net::use_awaitable);
}

int run_server(int requests, int notify_fd) {
  init_tracing("inventory-service");
  net::io_context io;
  tcp::acceptor acceptor(io, {net::ip::address_v4::loopback(), 0});
  const std::string port = std::to_string(acceptor.local_endpoint().port()) + "\n";
  if (notify_fd >= 0) {
    if (write(notify_fd, port.data(), port.size()) != static_cast<ssize_t>(port.size())) return 1;
    close(notify_fd);
  } else {
    std::cout << "listening on 127.0.0.1:" << port << std::flush;
  }
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        for (int i = 0; i < requests; ++i) {
          tcp::socket socket = co_await acceptor.async_accept(net::use_awaitable);
          // Each connection a task of its own, in a fresh context.
          prela::asio::co_spawn(io, serve_one(std::move(socket)), net::detached);
        }
      },
      net::detached);
  io.run();
  prela::shutdown();
  return 0;
}

// ---- client ------------------------------------------------------------------------

// A blocking Beast client: propagation needs no coroutines.
std::string get(unsigned short port, prela::formats formats) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect({net::ip::address_v4::loopback(), port});
  http::request<http::empty_body> req{http::verb::get, "/inventory", 11};
  req.set(http::field::host, "127.0.0.1");
  prela::inject(req.base(), formats);  // the current span's context (and baggage)
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return res.body();
}

int run_client(unsigned short port, int requests) {
  init_tracing("checkout-service");
  int joined = 0;
  for (int i = 0; i < requests; ++i) {
    // Even requests send W3C headers (and the X- pair); odd ones only the seed's
    // X-Trace-ID / X-Span-ID, as the Python library's services do.
    const bool w3c = i % 2 == 0;
    auto checkout = prela::get_tracer().span("checkout", prela::span_type::agent, {{"request", i}});
    prela::set_baggage("user.id", "user-" + std::to_string(i));
    auto call = prela::get_tracer().span("call inventory", prela::span_type::tool,
                                         {{"headers", w3c ? "w3c + x-trace-id" : "x-trace-id only"}});
    const std::string seen = get(port, w3c ? prela::formats::all : prela::formats::x_trace_id);
    const std::string expected = "trace_id=" + call->trace_id().to_hex() +
                                 " parent_span_id=" + call->span_id().to_hex() +
                                 " user.id=" + (w3c ? "user-" + std::to_string(i) : std::string("anonymous"));
    const bool ok = seen == expected;
    joined += ok ? 1 : 0;
    std::cout << "request " << i << " (" << (w3c ? "W3C" : "X-Trace-ID") << "): server saw " << seen
              << (ok ? "  -> joined" : "  -> NOT JOINED, expected " + expected) << "\n";
  }
  prela::shutdown();
  std::cout << joined << " of " << requests << " requests continued by the server in the client's trace\n";
  return joined == requests ? 0 : 1;
}

// ---- both, as two processes ----------------------------------------------------------

int run_both(const char* self, int requests) {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(fds[0]);
    const std::string n = std::to_string(requests);
    const std::string fd = std::to_string(fds[1]);
    execl(self, self, "server", "--requests", n.c_str(), "--notify-fd", fd.c_str(),
          static_cast<char*>(nullptr));
    std::perror("exec");
    _exit(127);
  }
  close(fds[1]);
  std::string port;
  char c = 0;
  while (read(fds[0], &c, 1) == 1 && c != '\n') port += c;
  close(fds[0]);
  if (port.empty()) {
    std::cerr << "the server process did not start\n";
    return 1;
  }
  std::cout << "server process " << child << " listening on 127.0.0.1:" << port << std::endl;
  const int client = run_client(static_cast<unsigned short>(std::stoi(port)), requests);
  int status = 0;
  waitpid(child, &status, 0);
  const bool server_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!server_ok) std::cerr << "the server process failed\n";
  std::cout << "spans: checkout-service.jsonl and inventory-service.jsonl (same trace ids)\n";
  return client == 0 && server_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  int requests = 4;
  int notify_fd = -1;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--requests") requests = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--notify-fd") notify_fd = std::atoi(argv[i + 1]);
  }
  if (requests <= 0) {
    std::cerr << "--requests wants a positive number\n";
    return 2;
  }
  if (mode == "server") return run_server(requests, notify_fd);
  if (mode == "client") {
    if (argc < 3) {
      std::cerr << "usage: distributed client PORT [--requests N]\n";
      return 2;
    }
    return run_client(static_cast<unsigned short>(std::atoi(argv[2])), requests);
  }
  if (!mode.empty() && mode.rfind("--", 0) != 0) {
    std::cerr << "usage: distributed [server|client PORT] [--requests N]\n";
    return 2;
  }
  return run_both("/proc/self/exe", requests);
}
