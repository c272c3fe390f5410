// Helpers shared by the tests: a tracer initialised with a memory exporter.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prela/exporters/memory.hpp"
#include "prela/prela.hpp"

namespace prela::testing {

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
              << s.started << ", ended " << s.ended << ", exported " << s.exported << ", dropped " << s.dropped
              << ", context_mismatches " << s.context_mismatches << ". Open spans:\n";
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

inline const span_data* find(const std::vector<span_data>& spans, std::string_view name) {
  auto it = std::find_if(spans.begin(), spans.end(), [&](const span_data& s) { return s.name == name; });
  return it == spans.end() ? nullptr : &*it;
}

inline std::string str(const attribute_value* v) {
  return v != nullptr && std::holds_alternative<std::string>(v->variant()) ? std::get<std::string>(v->variant())
                                                                            : std::string("<none>");
}

}  // namespace prela::testing

// Boost.Test assertions are not thread-safe: code running on other threads records
// failures with PRELA_THREAD_CHECK, and the thread_checks fixture turns them into a
// test failure (on the test's own thread) when each test case ends.
#include <atomic>
#include <cstdio>

namespace prela::testing {
inline std::atomic<int> thread_failures{0};

struct thread_checks {
  thread_checks() { thread_failures = 0; }
  ~thread_checks() { BOOST_TEST(thread_failures.exchange(0) == 0, "checks failed on other threads"); }
};
}  // namespace prela::testing

#define PRELA_THREAD_CHECK(cond)                                                           \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      ++prela::testing::thread_failures;                                                   \
      std::fprintf(stderr, "%s:%d: check failed on a thread: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                                      \
  } while (0)
