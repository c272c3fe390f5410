#include "agent_service.hpp"

#include <algorithm>
#include <cstdlib>

#include <boost/asio/experimental/as_tuple.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "debug_pages.hpp"

#include <prela/asio.hpp>
#include <prela/prela.hpp>

namespace demo {
namespace {

using namespace std::chrono_literals;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
constexpr auto no_throw = net::experimental::as_tuple(net::use_awaitable);

response make_response(http::status status, std::string body, const char* content_type = "text/plain") {
  response res{status, 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

net::awaitable<void> sleep_for(std::chrono::microseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor, d);
  co_await timer.async_wait(net::use_awaitable);
}

// The simulated model: real CPU work, `units` times about a microsecond of hashing.
std::uint64_t burn(std::uint64_t h, int units) {
  for (int u = 0; u < units; ++u) {
    for (int i = 0; i < 1000; ++i) {
      h = h * 0x9E3779B97F4A7C15ULL + 1;
      h ^= h >> 29;
    }
  }
  return h;
}

std::chrono::milliseconds stall_of(const http::request<http::string_body>& req) {
  const auto it = req.find("x-demo-stall-ms");
  if (it == req.end()) return std::chrono::milliseconds(0);
  const std::string v(it->value());
  char* end = nullptr;
  const long long ms = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || ms <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::min(ms, 60'000LL));
}

std::uint64_t hash(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

struct agent_service::impl : std::enable_shared_from_this<impl> {
  net::io_context& io;
  net::thread_pool& model_pool;
  service_options options;
  tcp::acceptor acceptor;
  unsigned short port;
  connection_pool retrieval;  // this same server's /retrieve, as if it were another service
  std::atomic<std::uint64_t> served{0};
  std::atomic<bool> stopping{false};

  impl(net::io_context& io_, net::thread_pool& pool, service_options o)
      : io(io_),
        model_pool(pool),
        options(o),
        acceptor(io_, {net::ip::address_v4::loopback(), o.port}),
        port(acceptor.local_endpoint().port()),
        retrieval(io_.get_executor(), port) {}

  net::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(no_throw);
      if (ec) break;  // stop() closed the acceptor
      socket.set_option(tcp::no_delay(true));
      prela::asio::co_spawn(io, session(self, std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> session(std::shared_ptr<impl> /*keeps this alive*/, tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      request req;
      auto [read_error, n] = co_await http::async_read(socket, buffer, req, no_throw);
      if (read_error) break;  // the client closed the connection, or sent no valid HTTP
      const bool keep_alive = req.keep_alive();
      // A child task per request: the trace and baggage it continues from the headers
      // live in the child's context and are gone when it finishes, so the next request
      // on this connection starts clean.
      response res = co_await prela::asio::co_spawn(io, handle(std::move(req)), net::use_awaitable);
      res.keep_alive(keep_alive && !stopping);
      auto [write_error, m] = co_await http::async_write(socket, res, no_throw);
      if (write_error || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  }

  net::awaitable<response> handle(request req) {
    // The live view of this process's open spans (docs/observability.md).
    if (req.method() == http::verb::get && req.target() == "/debug/prela/inflight") {
      co_return make_response(http::status::ok, inflight_json(prela::inflight()), "application/json");
    }
    if (req.method() == http::verb::get && req.target() == "/debug/prela") {
      co_return make_response(http::status::ok, inflight_page(prela::inflight()), "text/html; charset=utf-8");
    }
    if (req.method() != http::verb::post)
      co_return make_response(http::status::method_not_allowed,
                              "POST only (GET /debug/prela for the open spans)\n");
    try {
      if (req.target() == "/agent") co_return co_await agent(std::move(req));
      if (req.target() == "/retrieve") co_return co_await retrieve_endpoint(std::move(req));
    } catch (const std::exception& e) {
      co_return make_response(http::status::internal_server_error, std::string(e.what()) + "\n");
    }
    co_return make_response(http::status::not_found, "try POST /agent\n");
  }

  // POST /agent: the agent's work for one question.
  net::awaitable<response> agent(request req) {
    const std::uint64_t number = served.fetch_add(1, std::memory_order_relaxed) + 1;
    // Continue the caller's trace (traceparent) with its baggage; without those
    // headers this starts a new trace.
    auto span = prela::get_tracer().span("handle_request", prela::span_type::agent,
                                         prela::extract(req.base()), {{"http.route", "/agent"}});
    span->set_attribute("user.id", prela::get_baggage("user.id").value_or("anonymous"));
    const std::string question = req.body();
    // A request that hangs on purpose (X-Demo-Stall-Ms, at most a minute): what the
    // live view at /debug/prela and slow_span_threshold are for.
    if (const auto stall = stall_of(req); stall.count() > 0) {
      auto stalled = prela::get_tracer().span("stalled_dependency", prela::span_type::tool,
                                              {{"demo.stall_ms", static_cast<std::int64_t>(stall.count())}});
      co_await sleep_for(stall);
    }

    const std::string documents = co_await retrieve_documents(question);

    // Three tools at once: each runs in a fork of this context, so their spans are
    // siblings under handle_request however the io_context's threads interleave them.
    const bool fail = options.fail_every > 0 && number % static_cast<std::uint64_t>(options.fail_every) == 0;
    auto [web, calendar, code] = co_await prela::asio::gather(call_tool("search_web", 2ms, false),
                                                              call_tool("lookup_calendar", 4ms, false),
                                                              call_tool("run_code", 1ms, fail));

    // The model runs on the CPU pool; its span is still a child of handle_request, and
    // this coroutine comes back here, on an io_context thread, in its own context.
    const std::string prompt = question + "\n" + documents + "\n" + web + "\n" + calendar + "\n" + code;
    std::string answer = co_await prela::asio::co_spawn(
        model_pool, chat_completion(prompt, options.model_work), net::use_awaitable);
    span->set_attribute("answer.length", static_cast<std::int64_t>(answer.size()));
    co_return make_response(http::status::ok, std::move(answer) + "\n");
  }

  net::awaitable<std::string> retrieve_documents(std::string question) {
    auto span = prela::get_tracer().span("retrieve_documents", prela::span_type::retrieval,
                                         {{"server.port", static_cast<std::int64_t>(port)}});
    // retrieval.post injects this span's context: the other side continues the trace.
    response res = co_await retrieval.post("/retrieve", std::move(question));
    if (res.result() != http::status::ok) {
      throw std::runtime_error("retrieval answered " + std::to_string(res.result_int()));
    }
    span->set_attribute("documents", 4);
    co_return res.body();
  }

  static net::awaitable<std::string> run_tool(std::string name, std::chrono::microseconds latency,
                                              bool fail) {
    co_await sleep_for(latency);
    if (fail) throw std::runtime_error(name + ": sandbox timed out");
    co_return name + ": done";
  }

  // A tool failure is recorded on the tool's span (traced() gives it error status) and
  // the agent carries on without that tool.
  static net::awaitable<std::string> call_tool(std::string name, std::chrono::microseconds latency,
                                               bool fail) {
    try {
      co_return co_await prela::asio::traced(name, prela::span_type::tool, run_tool(name, latency, fail));
    } catch (const std::exception& e) {
      co_return std::string("(") + e.what() + ")";
    }
  }

  static net::awaitable<std::string> chat_completion(std::string prompt, int work) {
    auto span = prela::get_tracer().span(
        "chat_completion", prela::span_type::llm,
        {{"gen_ai.request.model", "demo-model"},
         {"gen_ai.usage.input_tokens", static_cast<std::int64_t>(prompt.size() / 4)}});
    constexpr int tokens = 16;
    std::uint64_t h = hash(prompt);
    for (int t = 0; t < tokens; ++t) {
      h = burn(h, work / tokens);
      if (t == 0) span->add_event("first_token");
    }
    span->set_attribute("gen_ai.usage.output_tokens", tokens);
    char text[40];
    std::snprintf(text, sizeof text, "answer %016llx", static_cast<unsigned long long>(h));
    co_return std::string(text);
  }

  // POST /retrieve: the "retrieval service".
  net::awaitable<response> retrieve_endpoint(request req) {
    auto span = prela::get_tracer().span("search_knowledge_base", prela::span_type::retrieval,
                                         prela::extract(req.base()), {{"http.route", "/retrieve"}});
    span->set_attribute("user.id", prela::get_baggage("user.id").value_or("anonymous"));
    {
      auto embed =
          prela::get_tracer().span("embed_query", prela::span_type::embedding,
                                   {{"gen_ai.request.model", "demo-embedding"}, {"dimensions", 384}});
      co_await sleep_for(500us);
    }
    {
      auto search = prela::get_tracer().span("vector_search", prela::span_type::retrieval, {{"top_k", 4}});
      co_await sleep_for(1ms);
    }
    co_return make_response(http::status::ok, "doc-1; doc-2; doc-3; doc-4");
  }
};

agent_service::agent_service(net::io_context& io, net::thread_pool& model_pool, service_options options)
    : impl_(std::make_shared<impl>(io, model_pool, options)) {}

agent_service::~agent_service() { stop(); }

void agent_service::start() { prela::asio::co_spawn(impl_->io, impl_->accept_loop(impl_), net::detached); }

void agent_service::stop() {
  if (impl_->stopping.exchange(true)) return;
  net::post(impl_->acceptor.get_executor(), [self = impl_] {
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
    self->retrieval.clear();
  });
}

unsigned short agent_service::port() const { return impl_->port; }

std::uint64_t agent_service::requests_served() const noexcept { return impl_->served.load(); }

}  // namespace demo
