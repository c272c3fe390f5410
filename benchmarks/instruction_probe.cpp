// Fixed-length loops for counting instructions with callgrind, which code placement and
// a noisy machine do not affect (docs/performance.md quotes its figures). Run each loop
// at two lengths and divide the difference by the difference in length, which cancels
// start-up and shut-down:
//   scripts/count-instructions.sh
// Loops:
//   unsampled <n>     n unsampled root spans (span scope start + end), one trace
//   unsampled-nested <n>  the same with a child span in each
//   unsampled-task <n>  the unsampled loop inside a prela::asio task (the spans' scopes
//                     hold the task's context, not the thread's own)
//   sampled <n>       n recorded root spans, through the batch processor to an exporter
//                     that discards them (the script also counts prela's threads)
//   sampled-attributes <n>  the same with 3 attributes each: two given at the start
//                     (a short string and an integer), a double set after
//   resume-plain <n>  n resumptions of co_await post(use_awaitable), plain Asio
//   resume-prela <n>  the same coroutine spawned with prela::asio::co_spawn
//   spawn-plain <n>   n co_spawns (detached) of a trivial coroutine, run, plain Asio
//   spawn-prela <n>   the same with prela::asio::co_spawn
//   gather <n>        n co_await prela::asio::gather of three trivial coroutines
//   extract <n>       n extracts of traceparent + tracestate + a 5-entry baggage
//   inject <n>        n injects of the same into a reused std::map carrier
//   continue <n>      n requests: extract, a server span continuing the trace, one
//                     inject (propagation_bench's continue_and_propagate)
#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "null_exporter.hpp"
#include "prela/asio.hpp"
#include "prela/prela.hpp"
#include "sample_request.hpp"

namespace net = boost::asio;

namespace {

net::awaitable<void> post_loop(long n) {
  for (long i = 0; i < n; ++i) co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
}

void unsampled(long n, bool nested) {
  auto trace = prela::new_trace_context({.sampled = false});
  auto& tracer = prela::get_tracer();
  for (long i = 0; i < n; ++i) {
    auto s = tracer.span("work");
    if (nested) {
      auto child = tracer.span("child");
    }
  }
}

net::awaitable<void> unsampled_task(long n) {
  unsampled(n, false);
  co_return;
}

void sampled(long n, bool with_attributes) {
  prela::tracer_options options;
  options.exporters.push_back(std::make_shared<prela::bench::null_exporter>());
  options.max_queue_size = 1 << 20;  // nothing is dropped
  prela::init(std::move(options));
  auto& tracer = prela::get_tracer();
  for (long i = 0; i < n; ++i) {
    if (with_attributes) {
      auto s = tracer.span("llm_call", prela::span_type::llm, {{"model", "m"}, {"tokens", 42}});
      s->set_attribute("latency_ms", 3.5);
    } else {
      auto s = tracer.span("work");
    }
  }
  prela::shutdown();
  if (prela::get_tracer().stats().dropped != 0) std::abort();
}

void resume(long n, bool traced) {
  net::io_context io(1);
  if (traced) {
    prela::asio::co_spawn(io, post_loop(n), net::detached);
  } else {
    net::co_spawn(io, post_loop(n), net::detached);
  }
  io.run();
}

net::awaitable<int> trivial() { co_return 1; }

void spawn(long n, bool traced) {
  net::io_context io(1);
  for (long i = 0; i < n; ++i) {
    if (traced) {
      prela::asio::co_spawn(io, trivial(), net::detached);
    } else {
      net::co_spawn(io, trivial(), net::detached);
    }
    io.run();
    io.restart();
  }
}

net::awaitable<void> gather_loop(long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    auto [a, b, c] = co_await prela::asio::gather(trivial(), trivial(), trivial());
    sum += a + b + c;
  }
  if (sum != 3 * n) std::abort();
}

using prela::bench::header_map;
using prela::bench::incoming_request;

void extract(long n) {
  const header_map in = incoming_request();
  std::size_t entries = 0;
  for (long i = 0; i < n; ++i) entries += prela::extract(in, prela::formats::w3c).baggage.size();
  if (entries != static_cast<std::size_t>(n) * 5) std::abort();
}

void inject(long n) {
  const header_map in = incoming_request();
  auto flow = prela::new_trace_context();
  auto span = prela::get_tracer().span("server", prela::span_type::agent, prela::extract(in));
  header_map out;
  for (long i = 0; i < n; ++i) prela::inject(out, prela::formats::w3c);
  if (out.size() != 3) std::abort();
}

void continue_requests(long n) {
  const header_map in = incoming_request();
  header_map out;
  for (long i = 0; i < n; ++i) {
    auto request = prela::new_trace_context();
    auto span =
        prela::get_tracer().span("server", prela::span_type::agent, prela::extract(in, prela::formats::w3c));
    prela::inject(out, prela::formats::w3c);
  }
  if (out.size() != 3) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view loop = argc > 1 ? argv[1] : "";
  const long n = argc > 2 ? std::atol(argv[2]) : 0;
  if (n <= 0) {
    std::fprintf(stderr,
                 "usage: instruction_probe "
                 "unsampled|unsampled-nested|unsampled-task|sampled|sampled-attributes|resume-plain|resume-"
                 "prela|spawn-plain|"
                 "spawn-prela|gather|extract|inject|continue <n>\n");
    return 2;
  }
  if (loop == "unsampled") {
    unsampled(n, false);
  } else if (loop == "unsampled-nested") {
    unsampled(n, true);
  } else if (loop == "unsampled-task") {
    net::io_context io(1);
    prela::asio::co_spawn(io, unsampled_task(n), net::detached);
    io.run();
  } else if (loop == "sampled") {
    sampled(n, false);
  } else if (loop == "sampled-attributes") {
    sampled(n, true);
  } else if (loop == "resume-plain") {
    resume(n, false);
  } else if (loop == "resume-prela") {
    resume(n, true);
  } else if (loop == "spawn-plain") {
    spawn(n, false);
  } else if (loop == "spawn-prela") {
    spawn(n, true);
  } else if (loop == "gather") {
    net::io_context io(1);
    prela::asio::co_spawn(io, gather_loop(n), net::detached);
    io.run();
  } else if (loop == "extract") {
    extract(n);
  } else if (loop == "inject") {
    inject(n);
  } else if (loop == "continue") {
    continue_requests(n);
  } else {
    std::fprintf(stderr, "unknown loop '%s'\n", std::string(loop).c_str());
    return 2;
  }
  return 0;
}
