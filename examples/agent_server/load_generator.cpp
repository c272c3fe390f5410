#include "load_generator.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <prela/asio.hpp>
#include <prela/prela.hpp>

#include "http_client.hpp"

namespace demo {
namespace {

struct run_state {
  const load_options& options;
  load_result& result;
  int next = 0;  // the io_context runs on one thread: plain ints are enough
};

// One request, as a task of its own: the root span and the baggage belong to this
// request only, and post() injects both into the headers.
net::awaitable<bool> one_request(http_connection& c, int id) {
  auto span = prela::get_tracer().span("POST /agent", prela::span_type::custom, {{"request.id", id}});
  prela::set_baggage("user.id", "user-" + std::to_string(id % 100));
  auto res = co_await post(c, "/agent", "question " + std::to_string(id) + ": what is on my calendar?");
  span->set_attribute("http.response.status_code", static_cast<std::int64_t>(res.result_int()));
  co_return res.result() == http::status::ok;
}

net::awaitable<void> worker(run_state& st) {
  const auto ex = co_await net::this_coro::executor;
  std::optional<http_connection> c;
  while (st.next < st.options.requests && !(st.options.stop && st.options.stop->load())) {
    const int id = st.options.first_id + st.next++;
    ++st.result.sent;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      if (!c) c.emplace(co_await connect(ex, st.options.port));
      const bool ok = co_await prela::asio::co_spawn(ex, one_request(*c, id), net::use_awaitable);
      st.result.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      ++(ok ? st.result.ok : st.result.failed);
    } catch (const std::exception&) {
      ++st.result.failed;
      c.reset();  // reconnect for the next request
    }
  }
}

}  // namespace

double load_result::percentile(double p) const {
  if (latencies_ms.empty()) return 0;
  std::vector<double> v = latencies_ms;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  const std::size_t k = std::clamp<std::size_t>(rank, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

load_result run_load(const load_options& options) {
  load_result result;
  result.latencies_ms.reserve(static_cast<std::size_t>(options.requests));
  run_state st{options, result};
  net::io_context io(1);
  for (int i = 0; i < std::max(1, options.concurrency); ++i) {
    prela::asio::co_spawn(io, worker(st), net::detached);
  }
  const auto t0 = std::chrono::steady_clock::now();
  io.run();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace demo
