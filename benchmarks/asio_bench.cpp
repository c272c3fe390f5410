// Cost of carrying the context through Asio, side by side with plain Asio.
// Run: build/default/benchmarks/asio_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
// "ns_per_op" is the time of one resumption (post loops) or one spawn/gather.
#include <benchmark/benchmark.h>

#include <chrono>

#include <boost/asio.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include "null_exporter.hpp"
#include "prela/asio.hpp"
#include "prela/prela.hpp"

namespace net = boost::asio;

namespace {

constexpr int posts_per_run = 2000;

net::awaitable<void> post_loop() {
  auto ex = co_await net::this_coro::executor;
  for (int i = 0; i < posts_per_run; ++i) co_await net::post(ex, net::use_awaitable);
}

// Each iteration spawns work with `spawn(io)` and runs the io_context until it is done;
// ns_per_op divides the iteration's time by the operations it performed.
template <class Spawn>
void run_iterations(benchmark::State& state, int ops_per_iteration, Spawn spawn) {
  net::io_context io(1);
  for (auto _ : state) {
    spawn(io);
    io.run();
    io.restart();
  }
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(ops_per_iteration) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// co_await post(use_awaitable): the resumption path, plain executor.
void post_resume_plain(benchmark::State& state) {
  run_iterations(state, posts_per_run,
                 [](net::io_context& io) { net::co_spawn(io, post_loop(), net::detached); });
}
BENCHMARK(post_resume_plain);

// The same through context_executor: a context install and restore per resumption.
void post_resume_context_executor(benchmark::State& state) {
  run_iterations(state, posts_per_run,
                 [](net::io_context& io) { prela::asio::co_spawn(io, post_loop(), net::detached); });
}
BENCHMARK(post_resume_context_executor);

// Both loops in every iteration, alternating which goes first, so that the drifts of a
// noisy machine hit both alike; reports each side's ns per resumption and the overhead.
// These are the figures docs/performance.md quotes for the resumption target.
template <class MakeExecutor>
void paired(benchmark::State& state, MakeExecutor make_executor) {
  using clock = std::chrono::steady_clock;
  net::io_context io(1);
  std::chrono::nanoseconds plain{0};
  std::chrono::nanoseconds traced{0};
  auto timed = [&io](auto spawn) {
    auto start = clock::now();
    spawn();
    io.run();
    io.restart();
    return clock::now() - start;
  };
  bool plain_first = true;
  for (auto _ : state) {
    auto run_plain = [&] {
      plain += timed([&] { net::co_spawn(make_executor(io), post_loop(), net::detached); });
    };
    auto run_traced = [&] {
      traced += timed([&] { prela::asio::co_spawn(make_executor(io), post_loop(), net::detached); });
    };
    if (plain_first) {
      run_plain();
      run_traced();
    } else {
      run_traced();
      run_plain();
    }
    plain_first = !plain_first;
  }
  const auto ops = static_cast<double>(state.iterations()) * posts_per_run;
  state.counters["plain_ns"] = static_cast<double>(plain.count()) / ops;
  state.counters["prela_ns"] = static_cast<double>(traced.count()) / ops;
  state.counters["overhead_pct"] =
      plain.count() > 0
          ? 100.0 * static_cast<double>(traced.count() - plain.count()) / static_cast<double>(plain.count())
          : 0.0;
}

void post_resume_paired(benchmark::State& state) {
  paired(state, [](net::io_context& io) { return io.get_executor(); });
}
BENCHMARK(post_resume_paired);

void post_resume_strand_paired(benchmark::State& state) {
  paired(state, [](net::io_context& io) { return net::make_strand(io); });
}
BENCHMARK(post_resume_strand_paired);

// Over a strand (context_executor<strand<...>> does not fit any_io_executor's inline
// storage: see docs/performance.md).
void post_resume_strand_plain(benchmark::State& state) {
  run_iterations(state, posts_per_run, [](net::io_context& io) {
    net::co_spawn(net::make_strand(io), post_loop(), net::detached);
  });
}
BENCHMARK(post_resume_strand_plain);

void post_resume_strand_context_executor(benchmark::State& state) {
  run_iterations(state, posts_per_run, [](net::io_context& io) {
    prela::asio::co_spawn(net::make_strand(io), post_loop(), net::detached);
  });
}
BENCHMARK(post_resume_strand_context_executor);

constexpr int spawns_per_run = 1000;

net::awaitable<int> trivial() { co_return 1; }

void co_spawn_plain(benchmark::State& state) {
  run_iterations(state, spawns_per_run, [](net::io_context& io) {
    for (int i = 0; i < spawns_per_run; ++i) net::co_spawn(io, trivial(), net::detached);
  });
}
BENCHMARK(co_spawn_plain);

void co_spawn_prela(benchmark::State& state) {
  run_iterations(state, spawns_per_run, [](net::io_context& io) {
    for (int i = 0; i < spawns_per_run; ++i) prela::asio::co_spawn(io, trivial(), net::detached);
  });
}
BENCHMARK(co_spawn_prela);

constexpr int groups_per_run = 500;

net::awaitable<void> parallel_group_loop() {
  auto ex = co_await net::this_coro::executor;
  for (int i = 0; i < groups_per_run; ++i) {
    auto r = co_await net::experimental::make_parallel_group(net::co_spawn(ex, trivial(), net::deferred),
                                                             net::co_spawn(ex, trivial(), net::deferred),
                                                             net::co_spawn(ex, trivial(), net::deferred))
                 .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
    benchmark::DoNotOptimize(r);
  }
}

net::awaitable<void> gather_loop() {
  for (int i = 0; i < groups_per_run; ++i) {
    auto r = co_await prela::asio::gather(trivial(), trivial(), trivial());
    benchmark::DoNotOptimize(r);
  }
}

void gather3_parallel_group_plain(benchmark::State& state) {
  run_iterations(state, groups_per_run,
                 [](net::io_context& io) { net::co_spawn(io, parallel_group_loop(), net::detached); });
}
BENCHMARK(gather3_parallel_group_plain);

void gather3_prela(benchmark::State& state) {
  run_iterations(state, groups_per_run,
                 [](net::io_context& io) { prela::asio::co_spawn(io, gather_loop(), net::detached); });
}
BENCHMARK(gather3_prela);

// A sampled span opened and ended inside a coroutine, batch processor and an exporter
// that does nothing: under plain co_spawn the span lives in the thread's own context,
// under prela::asio::co_spawn in the task's context. The difference is what a span
// costs for being in a task (its scope's hold on a context that is not the thread's).
constexpr int spans_per_run = 2000;

net::awaitable<void> span_loop() {
  for (int i = 0; i < spans_per_run; ++i) {
    auto s = prela::get_tracer().span("operation", prela::span_type::tool);
    benchmark::DoNotOptimize(&*s);
  }
  co_return;
}

template <class Spawn>
void spans_in(benchmark::State& state, Spawn spawn) {
  prela::init({.service_name = "bench", .exporters = {std::make_shared<prela::bench::null_exporter>()}});
  run_iterations(state, spans_per_run, spawn);
  prela::shutdown();
}

void span_sampled_in_plain_coroutine(benchmark::State& state) {
  spans_in(state, [](net::io_context& io) { net::co_spawn(io, span_loop(), net::detached); });
}
BENCHMARK(span_sampled_in_plain_coroutine);

void span_sampled_in_prela_task(benchmark::State& state) {
  spans_in(state, [](net::io_context& io) { prela::asio::co_spawn(io, span_loop(), net::detached); });
}
BENCHMARK(span_sampled_in_prela_task);

}  // namespace

BENCHMARK_MAIN();
