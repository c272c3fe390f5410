// The most common Asio server shape: a listener coroutine that hands each accepted
// socket to a callback-style session object (Asio's echo examples). One line gives each
// connection a flow of its own: prela::asio::new_flow(...) as the accepted socket's
// executor. Every handler of the session then runs in a fork of that flow, so its spans
// are children of the connection's span, siblings of each other, on whatever thread.
#include <boost/asio.hpp>

#include <array>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <prela/asio.hpp>
#include <prela/exporters/console.hpp>
#include <prela/prela.hpp>

namespace net = boost::asio;
using net::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  explicit session(tcp::socket socket) : socket_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(
        net::buffer(data_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return;
          auto echo = prela::get_tracer().span("echo", prela::span_type::tool,
                                               {{"bytes", static_cast<std::int64_t>(n)}});
          self->write(n);  // the next operation starts inside "echo": still a sibling, not a child
        });
  }
  void write(std::size_t n) {
    net::async_write(socket_, net::buffer(data_, n),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (!ec) self->read();
                     });
  }

  tcp::socket socket_;
  std::array<char, 64> data_{};
};

net::awaitable<void> listener(tcp::acceptor& acceptor, int connections) {
  auto ex = co_await net::this_coro::executor;
  for (int i = 0; i < connections; ++i) {
    // Without new_flow, the socket would carry the listener's executor, and the
    // session's handlers would run in the listener's flow.
    tcp::socket socket = co_await acceptor.async_accept(
        prela::asio::new_flow(ex, "connection", prela::span_type::agent), net::use_awaitable);
    std::make_shared<session>(std::move(socket))->start();
  }
}

// A plain client: a few messages per connection, each echoed back.
void client(tcp::endpoint server, int messages) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(server);
  for (int i = 0; i < messages; ++i) {
    const std::string msg = "message " + std::to_string(i);
    net::write(socket, net::buffer(msg));
    std::string reply(msg.size(), '\0');
    net::read(socket, net::buffer(reply));
  }
}

}  // namespace

int main() {
  prela::init(
      {.service_name = "echo-sessions-example", .exporters = {std::make_shared<prela::console_exporter>()}});
  constexpr int connections = 2;
  net::io_context io;
  tcp::acceptor acceptor(io, {net::ip::address_v4::loopback(), 0});
  prela::asio::co_spawn(io, listener(acceptor, connections), net::detached);

  std::vector<std::thread> server;
  for (int i = 0; i < 2; ++i) server.emplace_back([&io] { io.run(); });
  for (int c = 0; c < connections; ++c) client(acceptor.local_endpoint(), 3);
  for (auto& t : server) t.join();  // returns once both sessions have ended

  const auto stats = prela::get_tracer().stats();
  prela::shutdown();
  std::cout << "context mismatches: " << stats.context_mismatches << "\n";
}
