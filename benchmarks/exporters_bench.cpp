// Exporter throughput. Run: build/default/benchmarks/exporters_bench
//   --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Targets: OTLP protobuf encoding >= 3 M spans/s and JSON >= 300 k spans/s on one core
// (typical_spans.hpp); an application ending 100k spans/s with the OTLP exporter
// against a loopback receiver drops nothing with the default limits.
// otlp_libprotobuf_bench encodes the same spans with libprotobuf, for comparison.
#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <thread>

#include "prela/exporters/jsonl.hpp"
#include "prela/exporters/otlp_http.hpp"

#include <zlib.h>
#include "prela/prela.hpp"
#include "typical_spans.hpp"

namespace {

using prela::bench::typical_spans;
namespace net = boost::asio;
namespace http = boost::beast::http;

void otlp_json_encode(benchmark::State& state) {
  const auto spans = typical_spans(512);
  std::string out;
  for (auto _ : state) {
    out.clear();
    prela::otlp::encode_json(spans, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 512);
  state.counters["bytes/span"] = static_cast<double>(out.size()) / 512.0;
}
BENCHMARK(otlp_json_encode);

void otlp_protobuf_encode(benchmark::State& state) {
  const auto spans = typical_spans(512);
  std::string out;
  for (auto _ : state) {
    out.clear();
    prela::otlp::encode_protobuf(spans, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 512);
  state.counters["bytes/span"] = static_cast<double>(out.size()) / 512.0;
}
BENCHMARK(otlp_protobuf_encode);

// Encoding and gzip at the exporter's settings (level 6), for the bytes on the wire.
void otlp_encode_gzip(benchmark::State& state) {
  const bool json = state.range(0) != 0;
  const auto spans = typical_spans(512);
  std::string body;
  std::string out;
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  for (auto _ : state) {
    body.clear();
    if (json) {
      prela::otlp::encode_json(spans, body);
    } else {
      prela::otlp::encode_protobuf(spans, body);
    }
    deflateReset(&z);
    out.resize(deflateBound(&z, static_cast<uLong>(body.size())));
    z.next_in = reinterpret_cast<Bytef*>(body.data());
    z.avail_in = static_cast<uInt>(body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(out.size() - z.avail_out);
    benchmark::DoNotOptimize(out.data());
  }
  deflateEnd(&z);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 512);
  state.counters["bytes/span"] = static_cast<double>(out.size()) / 512.0;
  state.SetLabel(json ? "json+gzip" : "protobuf+gzip");
}
BENCHMARK(otlp_encode_gzip)->Arg(0)->Arg(1);

void jsonl_encode(benchmark::State& state) {
  const auto spans = typical_spans(512);
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const auto& s : spans) {
      prela::append_span_json(out, s);
      out.push_back('\n');
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 512);
}
BENCHMARK(jsonl_encode);

// A receiver that reads each request whole and answers 200, like a collector that
// accepts everything (it does not decode the JSON).
class loopback_receiver {
 public:
  loopback_receiver() : acceptor_(io_, {net::ip::address_v4::loopback(), 0}) {
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~loopback_receiver() {
    io_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(net::use_awaitable);
      net::co_spawn(io_, session(std::move(socket)), net::detached);
    }
  }
  static net::awaitable<void> session(net::ip::tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      co_await http::async_read(socket, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      http::response<http::string_body> res{http::status::ok, 11};
      res.body() = "{}";
      res.prepare_payload();
      co_await http::async_write(socket, res, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
  }
  net::io_context io_;
  net::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
};

// The application ends `rate` spans per second (paced in steps of 1 ms) for `seconds`,
// each with 5 attributes and an event; default batch processor limits. Encoding: 0 JSON,
// 1 protobuf, 2 protobuf + gzip.
void otlp_end_to_end(benchmark::State& state) {
  loopback_receiver receiver;
  prela::otlp_http_options options{.endpoint = receiver.endpoint()};
  options.protocol =
      state.range(1) == 0 ? prela::otlp_protocol::http_json : prela::otlp_protocol::http_protobuf;
  options.compression = state.range(1) == 2 ? prela::otlp_compression::gzip : prela::otlp_compression::none;
  state.SetLabel(state.range(1) == 0 ? "json" : state.range(1) == 1 ? "protobuf" : "protobuf+gzip");
  auto otlp = std::make_shared<prela::otlp_http_exporter>(options);
  prela::init({.service_name = "bench", .exporters = {otlp}});
  const auto rate = state.range(0);
  const auto seconds = state.range(2);
  const auto before = prela::get_tracer().stats();
  std::int64_t ended = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int ms = 0; ms < 1000 * seconds; ++ms) {
      for (std::int64_t i = 0; i < rate / 1000; ++i) {
        auto s = prela::get_tracer().span("llm.chat", prela::span_type::llm,
                                          {{"gen_ai.request.model", "gpt-4o-mini"},
                                           {"gen_ai.usage.input_tokens", 812},
                                           {"gen_ai.usage.output_tokens", 96},
                                           {"temperature", 0.2},
                                           {"cache.hit", false}});
        s->add_event("first_token", {{"index", 0}});
        ++ended;
      }
      std::this_thread::sleep_until(start + std::chrono::milliseconds(ms + 1));
    }
  }
  prela::force_flush(std::chrono::seconds(30));
  const auto after = prela::get_tracer().stats();
  prela::shutdown();
  state.counters["spans"] = static_cast<double>(ended);
  state.counters["dropped"] = static_cast<double>(after.dropped - before.dropped);
  state.counters["export_failures"] = static_cast<double>(after.export_failures - before.export_failures);
  state.counters["delivered"] = static_cast<double>(otlp->stats().exported_spans);
  state.counters["requests"] = static_cast<double>(otlp->stats().requests);
  state.counters["bytes/span"] = static_cast<double>(otlp->stats().bytes_sent) / static_cast<double>(ended);
}
BENCHMARK(otlp_end_to_end)
    ->Args({100'000, 0, 1})
    ->Args({100'000, 1, 1})
    ->Args({100'000, 2, 5})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
