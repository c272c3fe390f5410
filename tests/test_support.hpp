// Helpers shared by the tests: a tracer initialised with a memory exporter.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "prela/exporters/memory.hpp"
#include "prela/prela.hpp"

namespace prela::testing {

/// Bytes allocated from glibc's main arena (where the calling thread's allocations go,
/// if it is the main thread); 0 under a sanitizer's allocator.
inline std::size_t heap_in_use() { return mallinfo2().uordblks; }

/// Fails a test that hangs, instead of letting it hold CI until its overall limit: if
/// still alive after `limit`, prints what is stuck (every open span, with its flow
/// running or suspended: prela::write_inflight) and the tracer's counters, then aborts.
/// Arm it around waits that only end when the code under test finishes its work.
class hang_watchdog {
 public:
  explicit hang_watchdog(std::string what, std::chrono::seconds limit = std::chrono::seconds(120))
      : what_(std::move(what)), thread_([this, limit] { watch(limit); }) {}
  ~hang_watchdog() {
    {
      const std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  hang_watchdog(const hang_watchdog&) = delete;
  hang_watchdog& operator=(const hang_watchdog&) = delete;

 private:
  void watch(std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
    const tracer_stats s = get_tracer().stats();
    std::cerr << "HANG: " << what_ << " did not finish within " << limit.count() << " s. Counters: started "
              << s.started << ", ended " << s.ended << ", exported " << s.exported << ", dropped "
              << s.dropped << ", context_mismatches " << s.context_mismatches << ". Open spans:\n";
    write_inflight(std::cerr);
    std::cerr.flush();
    std::abort();
  }

  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// Initialises the global tracer with a memory exporter for one test, shuts it down
/// after. The schedule delay is long: tests read spans through force_flush(), which
/// must deliver at once.
struct traced {
  std::shared_ptr<memory_exporter> memory = std::make_shared<memory_exporter>();

  explicit traced(tracer_options options = {}) {
    options.exporters.push_back(memory);
    if (options.service_name.empty()) options.service_name = "prela-tests";
    options.schedule_delay = std::chrono::seconds(60);
    init(std::move(options));
  }
  ~traced() { shutdown(std::chrono::seconds(10)); }

  /// Flushes and returns every span exported so far.
  std::vector<span_data> spans() const {
    force_flush(std::chrono::seconds(10));
    return memory->spans();
  }
};

/// The exporter tests script, for behaviour the memory exporter does not have: what
/// each batch does (`on_export`: fail, throw, sleep, record; success when empty),
/// whether exports wait (hold() until release(): a hung backend), and what it saw:
/// calls, spans, batch sizes, flushes, shutdowns, and how many exports overlapped.
class scripted_exporter final : public exporter {
 public:
  using script = std::function<export_result(std::span<const span_data>)>;
  explicit scripted_exporter(script on_export = {}) : on_export_(std::move(on_export)) {}

  export_result export_spans(std::span<const span_data> spans) override {
    const int now = ++concurrent_;
    for (int seen = max_concurrent.load(); now > seen && !max_concurrent.compare_exchange_weak(seen, now);) {
    }
    ++exports;
    {
      std::unique_lock lock(mu_);
      released_.wait(lock, [this] { return !held_; });
      sizes_.push_back(spans.size());
    }
    struct leave {
      std::atomic<int>& concurrent;
      ~leave() { --concurrent; }
    } left{concurrent_};
    const export_result r = on_export_ ? on_export_(spans) : export_result::success;
    received += spans.size();
    return r;
  }
  bool force_flush(std::chrono::milliseconds) override {
    ++flushes;
    return true;
  }
  bool shutdown(std::chrono::milliseconds) override {
    ++shutdowns;
    return true;
  }

  /// Exports from now on wait until release().
  void hold() {
    const std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    {
      const std::lock_guard lock(mu_);
      held_ = false;
    }
    released_.notify_all();
  }
  /// The size of each batch, in order of arrival.
  std::vector<std::size_t> batch_sizes() {
    const std::lock_guard lock(mu_);
    return sizes_;
  }

  std::atomic<int> exports{0};           ///< export_spans calls, counted as they start
  std::atomic<std::size_t> received{0};  ///< spans of the calls that returned
  std::atomic<int> flushes{0};
  std::atomic<int> shutdowns{0};
  std::atomic<int> max_concurrent{0};  ///< most export_spans calls at once

 private:
  script on_export_;
  std::atomic<int> concurrent_{0};
  std::mutex mu_;
  std::condition_variable released_;
  bool held_ = false;
  std::vector<std::size_t> sizes_;
};

/// Captures prela's warnings (set_diagnostic_handler) while it lives; stderr again after.
class captured_warnings {
 public:
  captured_warnings() {
    set_diagnostic_handler([this](std::string_view m) {
      const std::lock_guard lock(mu_);
      lines_.emplace_back(m);
    });
  }
  ~captured_warnings() { set_diagnostic_handler(nullptr); }
  captured_warnings(const captured_warnings&) = delete;
  captured_warnings& operator=(const captured_warnings&) = delete;
  /// The warnings so far, one line each.
  std::vector<std::string> lines() {
    const std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

/// Sets environment variables for one test and removes them after; every variable
/// tracer_options::from_env() reads is unset first, so the test starts from a clean
/// environment.
struct env_vars {
  std::vector<std::string> names;
  env_vars(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* n : {"OTEL_SERVICE_NAME",
                          "OTEL_TRACES_SAMPLER",
                          "OTEL_TRACES_SAMPLER_ARG",
                          "OTEL_TRACES_EXPORTER",
                          "OTEL_BSP_SCHEDULE_DELAY",
                          "OTEL_BSP_EXPORT_TIMEOUT",
                          "OTEL_BSP_MAX_QUEUE_SIZE",
                          "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                          "OTEL_RESOURCE_ATTRIBUTES",
                          "OTEL_EXPORTER_OTLP_ENDPOINT",
                          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                          "OTEL_EXPORTER_OTLP_HEADERS",
                          "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                          "OTEL_EXPORTER_OTLP_TIMEOUT",
                          "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                          "OTEL_EXPORTER_OTLP_PROTOCOL",
                          "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                          "OTEL_EXPORTER_OTLP_COMPRESSION",
                          "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                          "OTEL_EXPORTER_OTLP_CERTIFICATE",
                          "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                          "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                          "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                          "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                          "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                          "PRELA_JSONL_PATH",
                          "PRELA_PERFETTO_PATH"}) {
      unsetenv(n);
    }
    for (auto [k, v] : vars) {
      setenv(k, v, 1);
      names.emplace_back(k);
    }
  }
  ~env_vars() {
    for (const auto& n : names) unsetenv(n.c_str());
  }
};

inline const span_data* find(const std::vector<span_data>& spans, std::string_view name) {
  auto it = std::find_if(spans.begin(), spans.end(), [&](const span_data& s) { return s.name == name; });
  return it == spans.end() ? nullptr : &*it;
}

inline std::string str(const attribute_value* v) {
  return v != nullptr && std::holds_alternative<std::string>(v->variant())
             ? std::get<std::string>(v->variant())
             : std::string("<none>");
}

}  // namespace prela::testing

// Boost.Test assertions are not thread-safe: code running on other threads (and
// coroutines, wherever they resume) records failures with PRELA_THREAD_CHECK, which
// prints the failed condition with its line. A test takes them back with
// take_thread_failures() (or runs under the thread_checks fixture, which does so when
// each test case ends); what no test took fails the module at its end.
#include <atomic>
#include <cstdio>

namespace prela::testing {
inline std::atomic<int> thread_failures{0};

/// The checks that failed since the last call.
inline int take_thread_failures() noexcept { return thread_failures.exchange(0); }

struct thread_checks {
  thread_checks() { thread_failures = 0; }
  ~thread_checks() { BOOST_TEST(take_thread_failures() == 0, "checks failed on other threads"); }
};

struct unclaimed_thread_checks {
  void setup() {}
  void teardown() {
    BOOST_TEST(take_thread_failures() == 0, "checks failed on other threads, in no test's count");
  }
};
BOOST_TEST_GLOBAL_FIXTURE(unclaimed_thread_checks);
}  // namespace prela::testing

#define PRELA_THREAD_CHECK(cond)                                                                \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      ++prela::testing::thread_failures;                                                        \
      std::fprintf(stderr, "%s:%d: check failed on a thread: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                                           \
  } while (0)
