// The server shapes Asio and Beast users write, traced with prela, checked from the
// exported spans: 4 server threads, 50-60 concurrent loopback connections, each run
// several times. Every test also checks that nothing was lost (spans started = ended =
// exported + dropped) and that no span points at a parent in another trace.
#define BOOST_TEST_MODULE asio_server_patterns
#include <boost/test/unit_test.hpp>

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <memory>
#include <set>

#include "asio_test_support.hpp"

using namespace prela;
using namespace prela::testing;
using net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr int server_threads = 4;
constexpr int connections = 60;
constexpr int messages = 5;
constexpr int rounds = 3;

/// A server io_context on server_threads threads, started after its first work is in.
struct server {
  net::io_context io{server_threads};
  std::vector<std::thread> threads;

  void start() {
    for (int i = 0; i < server_threads; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~server() {
    io.stop();
    for (auto& t : threads) t.join();
  }
  /// Waits until every server thread has run out of work (a hang aborts with the open
  /// spans printed after 120 s).
  void join() {
    const hang_watchdog watchdog("the server threads");
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

tcp::endpoint loopback(unsigned short port) { return {net::ip::address_v4::loopback(), port}; }

// --- A listener coroutine handing sockets to callback-style sessions -------------------
// (Asio's cpp11 echo server's session class, accepted by a cpp20-style listener that
// builds its acceptor from co_await this_coro::executor.)

enum class session_flow { own, inherited };

net::awaitable<void> callback_listener(std::promise<unsigned short>& port, int expected, session_flow mode) {
  auto ex = co_await net::this_coro::executor;
  tcp::acceptor acceptor(ex, loopback(0));
  port.set_value(acceptor.local_endpoint().port());
  auto listen = get_tracer().span("listen", span_type::agent);
  for (int i = 0; i < expected; ++i) {
    if (mode == session_flow::own) {
      // The one line that gives each connection its own flow and root span.
      tcp::socket socket = co_await acceptor.async_accept(asio::new_flow(ex, "connection", span_type::agent),
                                                          net::use_awaitable);
      std::make_shared<callback_echo_session>(std::move(socket))->start();
    } else {
      // Unmigrated: the sockets inherit the listener's task executor.
      tcp::socket socket = co_await acceptor.async_accept(net::use_awaitable);
      std::make_shared<callback_echo_session>(std::move(socket))->start();
    }
  }
  // A server's listener outlives its sessions' first messages (the clients connect all
  // at once, so the loop above ends early).
  co_await sleep_for(std::chrono::milliseconds(mode == session_flow::inherited ? 300 : 0));
}

/// The listener of the coroutine-per-connection servers: accepts `expected` connections
/// on an acceptor built from its own executor, starting `session(socket)` for each with
/// `spawn` (prela's co_spawn, or plain Asio's in the half-migrated case).
template <class Session, class Spawn>
net::awaitable<void> accept_loop(std::promise<unsigned short>& port, int expected, Session session,
                                 Spawn spawn) {
  auto ex = co_await net::this_coro::executor;
  tcp::acceptor acceptor(ex, loopback(0));
  port.set_value(acceptor.local_endpoint().port());
  for (int i = 0; i < expected; ++i) {
    tcp::socket socket = co_await acceptor.async_accept(net::use_awaitable);
    spawn(ex, session(std::move(socket)));
  }
}

constexpr auto prela_spawn = [](const auto& ex, auto task) {
  asio::co_spawn(ex, std::move(task), net::detached);
};

struct run_result {
  std::vector<span_data> spans;
  tracer_stats before, after;
  int echoes = 0;
};

/// No orphan, no parent in another trace, nothing lost, and (with `no_mismatch`) no
/// context mismatch counted.
forest expect_clean(const run_result& r, bool no_mismatch = true) {
  forest f = read_forest(r.spans);
  BOOST_TEST(f.orphans == 0U);
  BOOST_TEST(f.cross_trace_parents == 0U);
  BOOST_TEST(balanced(r.before, r.after));
  if (no_mismatch) BOOST_TEST(r.after.context_mismatches == r.before.context_mismatches);
  return f;
}

template <class Listener>
run_result serve(Listener listener, int clients, int per_client) {
  traced t({.max_queue_size = 1 << 16});
  run_result r;
  r.before = get_tracer().stats();
  {
    server srv;
    std::promise<unsigned short> port;
    auto port_ready = port.get_future();
    asio::co_spawn(srv.io, listener(port), net::detached);
    srv.start();
    r.echoes = run_echo_clients(loopback(port_ready.get()), clients, per_client);
    srv.join();
  }
  r.spans = t.spans();
  r.after = get_tracer().stats();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_patterns)

BOOST_AUTO_TEST_CASE(listener_coroutine_with_callback_sessions_in_their_own_flows) {
  for (int round = 0; round < rounds; ++round) {
    auto r = serve([](auto& port) { return callback_listener(port, connections, session_flow::own); },
                   connections, messages);
    BOOST_TEST(r.echoes == connections * messages);
    const forest f = expect_clean(r);
    std::set<trace_id> connection_traces;
    std::map<span_id, int> messages_per_connection;
    int listens = 0;
    for (const auto& s : r.spans) {
      if (s.name == "connection") {
        BOOST_TEST(!s.parent_span_id.is_valid());  // a root, not a child of "listen"
        connection_traces.insert(s.trace_id);
      } else if (s.name == "message") {
        BOOST_TEST(f.parent_name(s) == "connection");  // siblings under their connection
        ++messages_per_connection[s.parent_span_id];
      } else if (s.name == "listen") {
        ++listens;
      }
    }
    BOOST_TEST(listens == 1);
    BOOST_TEST(connection_traces.size() == static_cast<std::size_t>(connections));
    BOOST_TEST(messages_per_connection.size() == static_cast<std::size_t>(connections));
    for (const auto& [id, n] : messages_per_connection) BOOST_TEST(n == messages);
    BOOST_TEST(f.max_depth == 2U);
  }
}

BOOST_AUTO_TEST_CASE(unmigrated_callback_sessions_share_the_listener_flow_one_thread_at_a_time) {
  // Sockets accepted without new_flow inherit the listener's executor: their handlers run
  // in the listener's flow while it waits, never on two threads at once. Each message is
  // then a child of "listen"; a handler that could not have the flow (counted as a
  // mismatch), or that runs after the listener ended, runs under its thread's own
  // context: a root. Nothing crashes, nothing is lost, nothing nests under another
  // connection's message.
  for (int round = 0; round < rounds; ++round) {
    auto r = serve([](auto& port) { return callback_listener(port, connections, session_flow::inherited); },
                   connections, messages);
    BOOST_TEST(r.echoes == connections * messages);
    const forest f = expect_clean(r, false);
    int under_listen = 0;
    for (const auto& s : r.spans) {
      if (s.name != "message") continue;
      const std::string parent = f.parent_name(s);
      BOOST_TEST((parent == "listen" || (parent.empty() && !s.parent_span_id.is_valid())));
      under_listen += parent == "listen" ? 1 : 0;
    }
    BOOST_TEST(under_listen > 0);
    BOOST_TEST(f.max_depth <= 2U);
  }
}

// --- Half-migrated: the listener on prela, the per-connection spawn still plain Asio ----

net::awaitable<void> coroutine_echo(tcp::socket socket) {
  auto session = get_tracer().span("session", span_type::agent);
  char data[16];
  for (;;) {
    boost::system::error_code ec;
    co_await net::async_read(socket, net::buffer(data), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    auto m = get_tracer().span("message", span_type::tool);
    co_await net::async_write(socket, net::buffer(data), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
  }
}

BOOST_AUTO_TEST_CASE(half_migrated_plain_co_spawn_never_corrupts_and_is_counted) {
  for (int round = 0; round < rounds; ++round) {
    auto r = serve(
        [](auto& port) {
          return accept_loop(port, connections, coroutine_echo, [](const auto& ex, auto task) {
            net::co_spawn(ex, std::move(task), net::detached);  // not prela's
          });
        },
        connections, messages);
    BOOST_TEST(r.echoes == connections * messages);
    const forest f = expect_clean(r, false);
    BOOST_TEST(r.spans.size() == static_cast<std::size_t>(connections * (messages + 1)));
    // Sessions sharing one flow close their scopes out of nesting: counted.
    BOOST_TEST(r.after.context_mismatches > r.before.context_mismatches);
  }
}

// --- Beast: coroutine per connection with use_awaitable.as_default_on -------------------

namespace beast = boost::beast;
namespace http = beast::http;
using default_executor = net::use_awaitable_t<>::executor_with_default<net::any_io_executor>;
using tcp_stream = beast::tcp_stream::rebind_executor<default_executor>::other;

net::awaitable<void> http_session(tcp_stream stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, net::as_tuple(net::use_awaitable));
    (void)n;
    if (ec) break;
    auto request = get_tracer().span("request", span_type::agent, prela::extract(req.base()));
    {
      auto work = get_tracer().span("handler", span_type::tool);
      co_await sleep_for(50us);
    }
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.body() = std::string(req.target());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    {
      auto write = get_tracer().span("write");
      co_await http::async_write(stream, res);  // the default token: use_awaitable
    }
    if (!res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> http_listener(std::promise<unsigned short>& port, int expected) {
  auto acceptor =
      net::use_awaitable.as_default_on(tcp::acceptor(co_await net::this_coro::executor, loopback(0)));
  port.set_value(acceptor.local_endpoint().port());
  for (int i = 0; i < expected; ++i) {
    auto socket = co_await acceptor.async_accept();
    asio::co_spawn(acceptor.get_executor(), http_session(tcp_stream(std::move(socket))), net::detached);
  }
}

int run_http_clients(tcp::endpoint server, int clients, int requests) {
  net::io_context io;
  std::atomic<int> ok{0};
  for (int c = 0; c < clients; ++c) {
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          beast::tcp_stream stream(io);
          co_await stream.async_connect(server, net::use_awaitable);
          beast::flat_buffer buffer;
          for (int i = 0; i < requests; ++i) {
            http::request<http::empty_body> req{http::verb::get, "/r" + std::to_string(i), 11};
            req.keep_alive(i + 1 < requests);
            co_await http::async_write(stream, req, net::use_awaitable);
            http::response<http::string_body> res;
            co_await http::async_read(stream, buffer, res, net::use_awaitable);
            if (res.result() == http::status::ok && res.body() == "/r" + std::to_string(i)) ++ok;
          }
        },
        net::detached);
  }
  io.run_for(60s);
  return ok.load();
}

BOOST_AUTO_TEST_CASE(beast_coroutine_per_connection_with_as_default_on) {
  constexpr int clients = 50;
  constexpr int requests = 3;
  for (int round = 0; round < rounds; ++round) {
    traced t({.max_queue_size = 1 << 16});
    const auto before = get_tracer().stats();
    int answered = 0;
    {
      server srv;
      std::promise<unsigned short> port;
      auto port_ready = port.get_future();
      asio::co_spawn(
          srv.io, [&port]() { return http_listener(port, clients); }, net::detached);
      srv.start();
      answered = run_http_clients(loopback(port_ready.get()), clients, requests);
      srv.join();
    }
    const auto spans = t.spans();
    const auto after = get_tracer().stats();
    BOOST_TEST(answered == clients * requests);
    const forest f = read_forest(spans);
    BOOST_TEST(f.orphans == 0U);
    BOOST_TEST(f.cross_trace_parents == 0U);
    BOOST_TEST(balanced(before, after));
    BOOST_TEST(after.context_mismatches == before.context_mismatches);
    std::set<trace_id> request_traces;
    int writes = 0;
    for (const auto& s : spans) {
      BOOST_TEST(s.status_message != "cancelled", s.name << " ended as cancelled");
      if (s.name == "request") {
        BOOST_TEST(!s.parent_span_id.is_valid());
        request_traces.insert(s.trace_id);
      } else {
        BOOST_TEST(f.parent_name(s) == "request", s.name << " under '" << f.parent_name(s) << "'");
        writes += s.name == "write" ? 1 : 0;
      }
    }
    BOOST_TEST(request_traces.size() ==
               static_cast<std::size_t>(clients * requests));  // one trace per request
    BOOST_TEST(writes == clients * requests);
  }
}

// --- Chat rooms: callback sessions on strands, a strand per room ------------------------

struct room {
  explicit room(net::io_context& io) : strand(net::make_strand(io)) {}
  net::strand<net::io_context::executor_type> strand;
  std::vector<std::string> history;  // guarded by the strand
};

class chat_member : public std::enable_shared_from_this<chat_member> {
 public:
  chat_member(tcp::socket socket, room& r) : socket_(std::move(socket)), room_(r) {}
  void start() { read(); }

 private:
  void read() {
    net::async_read(socket_, net::buffer(data_),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      if (!ec) self->say();
                    });
  }
  void say() {
    auto s = get_tracer().span("say", span_type::tool);
    // The room's strand is plain Asio: bind_context carries this flow onto it.
    net::post(room_.strand, asio::bind_context([self = shared_from_this()] {
                auto d = get_tracer().span("deliver");
                self->room_.history.emplace_back(self->data_, sizeof self->data_);
                net::post(self->socket_.get_executor(), [self] { self->write(); });
              }));
  }
  void write() {
    net::async_write(socket_, net::buffer(data_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (!ec) self->read();
                     });
  }

  tcp::socket socket_;
  room& room_;
  char data_[16] = {};
};

net::awaitable<void> chat_listener(std::promise<unsigned short>& port, int expected, std::vector<room>& rooms,
                                   net::io_context& io) {
  auto ex = co_await net::this_coro::executor;
  tcp::acceptor acceptor(ex, loopback(0));
  port.set_value(acceptor.local_endpoint().port());
  for (int i = 0; i < expected; ++i) {
    // Each member's socket on a strand of its own (made from the io_context, as Beast's
    // examples do: a strand made from the listener's executor would carry the listener's
    // flow beneath it), in a flow of its own.
    auto member_ex = asio::new_flow(net::make_strand(io), "member", span_type::agent);
    tcp::socket socket = co_await acceptor.async_accept(member_ex, net::use_awaitable);
    std::make_shared<chat_member>(std::move(socket), rooms[static_cast<std::size_t>(i) % rooms.size()])
        ->start();
  }
}

BOOST_AUTO_TEST_CASE(chat_rooms_on_strands) {
  for (int round = 0; round < rounds; ++round) {
    traced t({.max_queue_size = 1 << 16});
    const auto before = get_tracer().stats();
    int echoes = 0;
    std::size_t said = 0;
    {
      server srv;
      std::vector<room> rooms;
      for (int i = 0; i < 5; ++i) rooms.emplace_back(srv.io);
      std::promise<unsigned short> port;
      auto port_ready = port.get_future();
      asio::co_spawn(
          srv.io, [&] { return chat_listener(port, connections, rooms, srv.io); }, net::detached);
      srv.start();
      echoes = run_echo_clients(loopback(port_ready.get()), connections, messages);
      srv.join();
      for (const auto& r : rooms) said += r.history.size();
    }
    const auto spans = t.spans();
    const auto after = get_tracer().stats();
    BOOST_TEST(echoes == connections * messages);
    BOOST_TEST(said == static_cast<std::size_t>(connections * messages));
    const forest f = read_forest(spans);
    BOOST_TEST(f.orphans == 0U);
    BOOST_TEST(f.cross_trace_parents == 0U);
    BOOST_TEST(balanced(before, after));
    BOOST_TEST(after.context_mismatches == before.context_mismatches);
    int members = 0;
    for (const auto& s : spans) {
      if (s.name == "member") {
        ++members;
        BOOST_TEST(!s.parent_span_id.is_valid());
      } else if (s.name == "say") {
        BOOST_TEST(f.parent_name(s) == "member");
      } else if (s.name == "deliver") {
        BOOST_TEST(f.parent_name(s) == "say");
      }
    }
    BOOST_TEST(members == connections);
  }
}

// --- Echo with a watchdog joined by || ---------------------------------------------------

net::awaitable<void> echo_loop(tcp::socket& socket) {
  char data[16];
  for (;;) {
    auto [ec, n] = co_await net::async_read(socket, net::buffer(data), net::as_tuple(net::use_awaitable));
    (void)n;
    if (ec) co_return;
    auto e = get_tracer().span("echo", span_type::tool);
    co_await net::async_write(socket, net::buffer(data), net::use_awaitable);
  }
}

net::awaitable<void> watchdog(std::chrono::steady_clock::duration limit) {
  auto w = get_tracer().span("watchdog");
  net::steady_timer timer(co_await net::this_coro::executor, limit);
  co_await timer.async_wait(net::use_awaitable);
}

net::awaitable<void> guarded_session(tcp::socket socket) {
  using namespace prela::asio::awaitable_operators;
  auto s = get_tracer().span("session", span_type::agent);
  co_await (echo_loop(socket) || watchdog(60s));
}

BOOST_AUTO_TEST_CASE(echo_with_a_watchdog_joined_by_or) {
  for (int round = 0; round < rounds; ++round) {
    auto r = serve([](auto& port) { return accept_loop(port, connections, guarded_session, prela_spawn); },
                   connections, messages);
    BOOST_TEST(r.echoes == connections * messages);
    const forest f = expect_clean(r);
    int watchdogs = 0;
    for (const auto& s : r.spans) {
      if (s.name == "echo") {
        BOOST_TEST(f.parent_name(s) == "session");
        BOOST_TEST((s.status != span_status::error));
      } else if (s.name == "watchdog") {
        ++watchdogs;
        BOOST_TEST(f.parent_name(s) == "session");
        BOOST_TEST(s.status_message == "cancelled");  // the || loser: a real cancellation
      }
    }
    BOOST_TEST(watchdogs == connections);
  }
}

// --- A proxy over channels: a reader and a writer per connection, joined by && ----------

using message_channel = net::experimental::concurrent_channel<void(boost::system::error_code, std::string)>;

net::awaitable<void> proxy_reader(tcp::socket& socket, message_channel& ch) {
  char data[16];
  for (;;) {
    auto [ec, n] = co_await net::async_read(socket, net::buffer(data), net::as_tuple(net::use_awaitable));
    (void)n;
    if (ec) break;
    auto s = get_tracer().span("forward");
    co_await ch.async_send(boost::system::error_code{}, std::string(data, sizeof data), net::use_awaitable);
  }
  ch.close();
}

net::awaitable<void> proxy_writer(tcp::socket& socket, message_channel& ch) {
  for (;;) {
    auto [ec, msg] = co_await ch.async_receive(net::as_tuple(net::use_awaitable));
    if (ec) break;
    auto s = get_tracer().span("deliver");
    co_await net::async_write(socket, net::buffer(msg), net::use_awaitable);
  }
}

net::awaitable<void> proxy_session(tcp::socket socket) {
  using namespace prela::asio::awaitable_operators;
  auto s = get_tracer().span("proxy", span_type::agent);
  message_channel ch(co_await net::this_coro::executor, 2);
  co_await (proxy_reader(socket, ch) && proxy_writer(socket, ch));
}

BOOST_AUTO_TEST_CASE(proxy_over_channels) {
  for (int round = 0; round < rounds; ++round) {
    auto r = serve([](auto& port) { return accept_loop(port, connections, proxy_session, prela_spawn); },
                   connections, messages);
    BOOST_TEST(r.echoes == connections * messages);
    const forest f = expect_clean(r);
    int forwards = 0;
    int delivers = 0;
    for (const auto& s : r.spans) {
      if (s.name == "forward" || s.name == "deliver") {
        BOOST_TEST(f.parent_name(s) == "proxy");
        (s.name == "forward" ? forwards : delivers) += 1;
      }
    }
    BOOST_TEST(forwards == connections * messages);
    BOOST_TEST(delivers == connections * messages);
  }
}

BOOST_AUTO_TEST_SUITE_END()
