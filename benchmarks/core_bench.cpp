// The core's hot paths. Run: build/default/benchmarks/core_bench
//   --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Figures and the machine they came from: docs/performance.md.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "null_exporter.hpp"
#include "prela/prela.hpp"

namespace {

void init_with(std::shared_ptr<prela::sampler> sampler) {
  prela::init({.service_name = "bench",
               .sampler = std::move(sampler),
               .exporters = {std::make_shared<prela::bench::null_exporter>()}});
}

// Reports the share of spans the queue had to drop: a benchmark thread can end spans
// faster than the export thread consumes them, and dropping is cheaper than queueing.
void report_drops(benchmark::State& state, const prela::tracer_stats& before) {
  prela::force_flush();
  const auto after = prela::get_tracer().stats();
  const double ended = static_cast<double>(after.ended - before.ended);
  state.counters["dropped%"] =
      ended > 0 ? 100.0 * static_cast<double>(after.dropped - before.dropped) / ended : 0;
}

void span_sampled(benchmark::State& state) {
  init_with(nullptr);
  const auto before = prela::get_tracer().stats();
  for (auto _ : state) {
    auto s = prela::get_tracer().span("operation", prela::span_type::tool);
    benchmark::DoNotOptimize(&*s);
  }
  report_drops(state, before);
  prela::shutdown();
}
BENCHMARK(span_sampled);

void span_sampled_with_attributes(benchmark::State& state) {
  init_with(nullptr);
  const auto before = prela::get_tracer().stats();
  for (auto _ : state) {
    auto s = prela::get_tracer().span("llm_call", prela::span_type::llm, {{"model", "m"}, {"tokens", 42}});
    s->set_attribute("latency_ms", 3.5);
  }
  report_drops(state, before);
  prela::shutdown();
}
BENCHMARK(span_sampled_with_attributes);

void span_unsampled(benchmark::State& state) {
  init_with(prela::always_off());
  for (auto _ : state) {
    auto s = prela::get_tracer().span("operation", prela::span_type::tool);
    benchmark::DoNotOptimize(&*s);
  }
  prela::shutdown();
}
BENCHMARK(span_unsampled);

void nested_pair_sampled(benchmark::State& state) {
  init_with(nullptr);
  const auto before = prela::get_tracer().stats();
  for (auto _ : state) {
    auto outer = prela::get_tracer().span("outer", prela::span_type::agent);
    auto inner = prela::get_tracer().span("inner", prela::span_type::llm);
    benchmark::DoNotOptimize(&*inner);
  }
  report_drops(state, before);
  prela::shutdown();
}
BENCHMARK(nested_pair_sampled);

void current_span(benchmark::State& state) {
  init_with(nullptr);
  auto s = prela::get_tracer().span("current");
  for (auto _ : state) benchmark::DoNotOptimize(prela::current_span());
}
BENCHMARK(current_span);

// What a log line pays for its trace and span ids (<prela/log.hpp>). Target: <= 20 ns.
void current_log_fields(benchmark::State& state) {
  auto s = prela::get_tracer().span("operation");
  for (auto _ : state) {
    auto f = prela::current_log_fields();
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK(current_log_fields);

void get_baggage(benchmark::State& state) {
  prela::set_baggage("tenant", "acme");
  prela::set_baggage("user_id", "u-12345");
  prela::set_baggage("zone", "eu");
  for (auto _ : state) benchmark::DoNotOptimize(prela::get_baggage("user_id"));
}
BENCHMARK(get_baggage);

void copy_context_wrap_and_invoke(benchmark::State& state) {
  init_with(nullptr);
  auto s = prela::get_tracer().span("parent");
  prela::set_baggage("user_id", "u-1");
  int counter = 0;
  for (auto _ : state) {
    auto wrapped = prela::copy_context_to_thread([&counter] { ++counter; });
    wrapped();
  }
  benchmark::DoNotOptimize(counter);
}
BENCHMARK(copy_context_wrap_and_invoke);

// prela::inflight() over N open spans (handles kept open on 4 threads, 2 levels deep:
// what a server with N/2 requests in flight has). Target: 10 000 spans in <= 10 ms.
void inflight_snapshot(benchmark::State& state) {
  init_with(nullptr);
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<prela::span_handle> open;
  open.reserve(n);
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<prela::span_handle> mine;
      for (std::size_t i = 0; i < n / 8; ++i) {
        mine.push_back(prela::get_tracer().start_span("request", prela::span_type::agent));
        mine.push_back(prela::get_tracer().start_span("database query", prela::span_type::retrieval));
      }
      const std::lock_guard lock(mu);
      for (auto& h : mine) open.push_back(std::move(h));
    });
  }
  for (auto& t : threads) t.join();
  std::size_t seen = 0;
  for (auto _ : state) {
    auto spans = prela::inflight();
    seen = spans.size();
    benchmark::DoNotOptimize(spans.data());
  }
  state.counters["spans"] = static_cast<double>(seen);
  open.clear();
  prela::shutdown();
}
BENCHMARK(inflight_snapshot)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// A span reads the clock twice (recording spans only): prela's clock against the
// system's.
void clock_prela(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(prela::now_since_epoch());
}
BENCHMARK(clock_prela);

void clock_system(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(clock_system);

// The floor the design notes compare against: a thread_local pointer swap.
thread_local void* floor_slot = nullptr;
void thread_local_swap_floor(benchmark::State& state) {
  int x = 0;
  for (auto _ : state) {
    void* prev = floor_slot;
    floor_slot = &x;
    benchmark::ClobberMemory();
    floor_slot = prev;
  }
}
BENCHMARK(thread_local_swap_floor);

}  // namespace

BENCHMARK_MAIN();
