#define BOOST_TEST_MODULE clock
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "prela/clock.hpp"
#include "test_support.hpp"

using prela::testing::captured_warnings;
using prela::testing::env_vars;

namespace {

using std::chrono::steady_clock;

std::int64_t prela_ns() { return prela::now_since_epoch().count(); }
std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// One reading of prela's clock between two of steady_clock: a thread preempted between
// them widens the bracket instead of failing the test.
struct bracketed {
  std::int64_t before, prela, after;
  static bracketed read() {
    bracketed b{};
    b.before = steady_ns();
    b.prela = prela_ns();
    b.after = steady_ns();
    return b;
  }
  /// How far prela's time elapsed since `first` lies outside what steady_clock's
  /// readings allow (0 or less: inside).
  [[nodiscard]] std::int64_t outside_since(const bracketed& first) const {
    const std::int64_t elapsed = prela - first.prela;
    return std::max(before - first.after - elapsed, elapsed - (after - first.before));
  }
};

// Long enough for the first calibration (10 ms) and two re-anchors (one a second).
constexpr auto across_recalibrations = std::chrono::milliseconds(2300);

}  // namespace

BOOST_AUTO_TEST_CASE(it_reads_the_wall_clock) {
  const auto before = std::chrono::system_clock::now().time_since_epoch();
  const auto now = prela::now_since_epoch();
  const auto after = std::chrono::system_clock::now().time_since_epoch();
  // The wall clock is read once; later readings add monotonic time. A generous margin:
  // NTP may have slewed the system clock since the process started.
  BOOST_TEST(now.count() >= (before - std::chrono::milliseconds(50)).count());
  BOOST_TEST(now.count() <= (after + std::chrono::milliseconds(50)).count());
}

BOOST_AUTO_TEST_CASE(it_follows_the_monotonic_clock_across_recalibrations) {
  // Elapsed time by prela's clock against steady_clock's, every 20 ms for 2.3 s: within
  // 100 us (the TSC's rate is measured against CLOCK_MONOTONIC and re-measured every
  // second; the system clock is what it must agree with).
  const bracketed first = bracketed::read();
  std::int64_t worst = 0;
  const auto end = steady_clock::now() + across_recalibrations;
  while (steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    worst = std::max(worst, bracketed::read().outside_since(first));
  }
  BOOST_TEST_MESSAGE("furthest outside steady_clock's bracket: " << worst << " ns");
  BOOST_TEST(worst < 100'000);
}

BOOST_AUTO_TEST_CASE(readings_on_one_thread_neither_step_back_nor_jump_ahead) {
  // Four threads read in a tight loop across re-anchors. Each re-anchor continues from
  // where the previous calibration had got to, so a thread sees no step backwards
  // beyond rounding (a nanosecond), nor a jump forwards (over 10 us beyond the time
  // steady_clock saw pass).
  std::atomic<std::int64_t> worst_back{0};
  std::atomic<std::int64_t> worst_jump{0};
  std::atomic<std::uint64_t> readings{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::int64_t back = 0;
      std::int64_t jump = 0;
      std::uint64_t n = 0;
      const auto end = steady_clock::now() + across_recalibrations;
      while (steady_clock::now() < end) {
        // Forwards: over a round of 1000 readings, no more than steady_clock saw pass
        // (its readings bracket prela's).
        const std::int64_t steady_start = steady_ns();
        const std::int64_t start = prela_ns();
        std::int64_t last = start;
        for (int i = 0; i < 1000; ++i, ++n) {
          const std::int64_t now = prela_ns();
          back = std::max(back, last - now);
          last = now;
        }
        jump = std::max(jump, (last - start) - (steady_ns() - steady_start));
      }
      readings += n;
      std::int64_t w = worst_back.load();
      while (back > w && !worst_back.compare_exchange_weak(w, back)) {
      }
      w = worst_jump.load();
      while (jump > w && !worst_jump.compare_exchange_weak(w, jump)) {
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST_MESSAGE(readings.load() << " readings; furthest back " << worst_back.load()
                                     << " ns; furthest ahead of steady_clock " << worst_jump.load() << " ns");
  BOOST_TEST(worst_back.load() <= 1);
  BOOST_TEST(worst_jump.load() < 10'000);
}

BOOST_AUTO_TEST_CASE(a_forked_child_reads_the_same_clock) {
  // The child inherits the calibration (the TSC is the machine's): its readings follow
  // steady_clock like the parent's, and go on past a re-anchor of its own.
  const bracketed first = bracketed::read();
  const pid_t pid = fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    int failures = 0;
    const auto end = steady_clock::now() + std::chrono::milliseconds(1200);
    while (steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (bracketed::read().outside_since(first) > 100'000) ++failures;
    }
    _exit(failures == 0 ? 0 : 1);
  }
  int status = 0;
  BOOST_TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

// Run alone (tests/CMakeLists.txt): the choice is read at the process's first reading.
BOOST_AUTO_TEST_CASE(an_invalid_choice_is_reported_once, *boost::unit_test::disabled()) {
  const env_vars env({{"PRELA_CLOCK", "fast\x1b[2J"}});
  captured_warnings warnings;
  for (int i = 0; i < 3; ++i) (void)prela::now_since_epoch();
  const auto lines = warnings.lines();
  BOOST_TEST_REQUIRE(lines.size() == 1U);
  BOOST_TEST(lines[0].find("PRELA_CLOCK=\"fast") != std::string::npos);
  BOOST_TEST(lines[0].find('\x1b') == std::string::npos);  // shown escaped, not sent to the terminal
}
