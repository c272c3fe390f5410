// End to end: three HTTP services on loopback (Beast, coroutines on a 2-thread
// io_context). A client calls the first, which calls the second, which calls the third;
// every hop extracts the caller's context and injects its own. Many requests run at
// once: each must come out as one trace with every parent link intact.
#define BOOST_TEST_MODULE propagation_http
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "asio_test_support.hpp"
#include "prela/propagation.hpp"

namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using namespace prela;
using prela::testing::traced;

namespace {

/// GET http://127.0.0.1:port/target with the current context injected.
net::awaitable<std::string> http_get(unsigned short port, std::string target) {
  auto call = get_tracer().span("GET " + target, span_type::tool, {{"server.port", port}});
  tcp::socket socket(co_await net::this_coro::executor);
  co_await socket.async_connect({net::ip::address_v4::loopback(), port}, net::use_awaitable);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  inject(req.base());
  co_await http::async_write(socket, req, net::use_awaitable);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  co_await http::async_read(socket, buffer, res, net::use_awaitable);
  co_return res.body();
}

struct service {
  std::string name;
  tcp::acceptor acceptor;
  unsigned short next_port = 0;  // 0: the last hop

  service(net::io_context& io, std::string n)
      : name(std::move(n)), acceptor(io, {net::ip::address_v4::loopback(), 0}) {}
  unsigned short port() const { return acceptor.local_endpoint().port(); }

  net::awaitable<void> session(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    co_await http::async_read(socket, buffer, req, net::use_awaitable);
    std::string body;
    {
      auto handle = get_tracer().span(name + " handle", span_type::agent, extract(req));
      handle->set_attribute("user", get_baggage("user").value_or("?"));
      co_await testing::sleep_for(std::chrono::microseconds(200));
      body = name;
      if (next_port != 0) body += ">" + co_await http_get(next_port, "/next");
    }
    http::response<http::string_body> res{http::status::ok, 11};
    res.body() = body;
    res.prepare_payload();
    co_await http::async_write(socket, res, net::use_awaitable);
  }

  net::awaitable<void> serve(int connections) {
    for (int i = 0; i < connections; ++i) {
      tcp::socket socket = co_await acceptor.async_accept(net::use_awaitable);
      // Each connection is a task of its own: no context is inherited from the
      // accept loop, the trace comes from the request headers.
      prela::asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), net::detached);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(three_services_one_trace_per_request) {
  traced t;
  constexpr int requests = 40;
  net::io_context io;
  service a(io, "a");
  service b(io, "b");
  service c(io, "c");
  a.next_port = b.port();
  b.next_port = c.port();
  for (service* s : {&a, &b, &c}) net::co_spawn(io, s->serve(requests), net::detached);

  std::atomic<int> ok{0};
  for (int i = 0; i < requests; ++i) {
    prela::asio::co_spawn(
        io,
        [&, i]() -> net::awaitable<void> {
          auto root = get_tracer().span("client " + std::to_string(i), span_type::agent);
          set_baggage("user", "u" + std::to_string(i));
          const std::string body = co_await http_get(a.port(), "/ask");
          if (body == "a>b>c") ++ok;
        },
        net::detached);
  }
  testing::run_on_threads(io, 2);
  BOOST_TEST(ok.load() == requests);

  const auto spans = t.spans();
  BOOST_TEST(spans.size() == static_cast<std::size_t>(requests) * 7);  // client, 3 calls, 3 handlers
  std::map<span_id, const span_data*> by_id;
  std::map<trace_id, int> per_trace;
  for (const auto& s : spans) {
    by_id[s.span_id] = &s;
    ++per_trace[s.trace_id];
  }
  BOOST_TEST(per_trace.size() == static_cast<std::size_t>(requests));
  for (const auto& [id, n] : per_trace) BOOST_TEST(n == 7);

  int orphans = 0;
  int cross_trace = 0;
  int remote_parents = 0;
  for (const auto& s : spans) {
    if (s.name.rfind("client ", 0) == 0) {
      BOOST_TEST(!s.parent_span_id.is_valid());
      continue;
    }
    auto it = by_id.find(s.parent_span_id);
    if (it == by_id.end()) {
      ++orphans;
      continue;
    }
    if (it->second->trace_id != s.trace_id) ++cross_trace;
    if (s.name.find(" handle") != std::string::npos) {
      // A handler's parent is the caller's GET span, across the process boundary.
      BOOST_TEST(s.parent_is_remote);
      BOOST_TEST(it->second->name.rfind("GET ", 0) == 0);
      ++remote_parents;
    } else {
      BOOST_TEST(!s.parent_is_remote);
    }
  }
  BOOST_TEST(orphans == 0);
  BOOST_TEST(cross_trace == 0);
  BOOST_TEST(remote_parents == requests * 3);

  // Baggage crossed every hop: each handler saw its client's user.
  for (const auto& s : spans) {
    if (s.name.find(" handle") == std::string::npos) continue;
    const span_data* p = &s;
    while (p->parent_span_id.is_valid()) p = by_id.at(p->parent_span_id);
    BOOST_TEST("u" + p->name.substr(7) == prela::testing::str(s.attribute("user")));
  }
}
