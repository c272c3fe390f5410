// Header propagation. Run: build/default/benchmarks/propagation_bench
//   --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The target (DESIGN.md): traceparent + tracestate + a 5-entry baggage, extracted and
// injected, <= 200 ns per round trip. Figures: docs/performance.md.
#include <benchmark/benchmark.h>

#include <boost/beast/http/fields.hpp>

#include <map>
#include <string>

#include "prela/prela.hpp"
#include "sample_request.hpp"

namespace {

using prela::bench::header_map;
using prela::bench::incoming_request;

void extract_w3c(benchmark::State& state) {
  const header_map headers = incoming_request();
  for (auto _ : state) {
    auto r = prela::extract(headers, prela::formats::w3c);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(extract_w3c);

void extract_traceparent_only(benchmark::State& state) {
  const header_map headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
  for (auto _ : state) {
    auto r = prela::extract(headers, prela::formats::trace_context);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(extract_traceparent_only);

// A server span continuing the request, with the request's baggage: what inject()
// then writes for a downstream call.
struct continued_request {
  prela::context_scope flow = prela::new_trace_context();
  prela::span_scope span;
  explicit continued_request(const header_map& h)
      : span(prela::get_tracer().span("server", prela::span_type::agent, prela::extract(h))) {}
};

void inject_w3c(benchmark::State& state) {
  continued_request current(incoming_request());
  header_map out;
  for (auto _ : state) {
    prela::inject(out, prela::formats::w3c);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(inject_w3c);

void round_trip_w3c(benchmark::State& state) {
  const header_map in = incoming_request();
  continued_request current(in);
  header_map out;
  for (auto _ : state) {
    auto r = prela::extract(in, prela::formats::w3c);
    benchmark::DoNotOptimize(r);
    prela::inject(out, prela::formats::w3c);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(round_trip_w3c);

void round_trip_all_formats(benchmark::State& state) {
  const header_map in = incoming_request();
  continued_request current(in);
  header_map out;
  for (auto _ : state) {
    auto r = prela::extract(in);
    benchmark::DoNotOptimize(r);
    prela::inject(out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(round_trip_all_formats);

void round_trip_beast_fields(benchmark::State& state) {
  const header_map in_map = incoming_request();
  boost::beast::http::fields in;
  for (const auto& [k, v] : in_map) in.insert(k, v);
  continued_request current(in_map);
  boost::beast::http::fields out;
  for (auto _ : state) {
    auto r = prela::extract(in, prela::formats::w3c);
    benchmark::DoNotOptimize(r);
    prela::inject(out, prela::formats::w3c);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(round_trip_beast_fields);

// What a server pays per request: continue the caller's trace (its baggage installed in
// the request's context) and pass it on to one downstream call. Each request starts
// from a clean context, as a task's own would. The tracer is not initialised: spans
// are not recorded, so this is propagation and context work only.
void continue_and_propagate(benchmark::State& state) {
  const header_map in = incoming_request();
  header_map out;
  for (auto _ : state) {
    auto request = prela::new_trace_context();
    auto span =
        prela::get_tracer().span("server", prela::span_type::agent, prela::extract(in, prela::formats::w3c));
    prela::inject(out, prela::formats::w3c);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(continue_and_propagate);

}  // namespace

BENCHMARK_MAIN();
