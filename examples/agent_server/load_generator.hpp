// The demo's load generator: C keep-alive connections sending N requests in total, each
// request the root span of a trace whose context and baggage travel in the headers.
#pragma once

#include <atomic>
#include <chrono>
#include <vector>

namespace demo {

struct load_options {
  unsigned short port = 0;
  int requests = 100;
  int concurrency = 8;
  int first_id = 0;                         ///< request ids are first_id, first_id + 1, ...
  const std::atomic<bool>* stop = nullptr;  ///< checked before each request (Ctrl-C)
};

struct load_result {
  int sent = 0;
  int ok = 0;                        ///< 200 answers
  int failed = 0;                    ///< other answers and broken connections
  std::vector<double> latencies_ms;  ///< one per answered request
  double seconds = 0;                ///< wall time of the whole run

  [[nodiscard]] double throughput() const { return seconds > 0 ? ok / seconds : 0; }
  /// p in [0, 100]; 0 when nothing was measured.
  [[nodiscard]] double percentile(double p) const;
};

/// Runs on the calling thread (an io_context of its own) until every request is answered.
load_result run_load(const load_options& options);

}  // namespace demo
