#include "prela/clock.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <string>

#include "detail/diagnostics.hpp"
#include "detail/env.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <pthread.h>
#include <x86intrin.h>
#endif

namespace prela {
namespace {

std::int64_t read_ns(clockid_t clock) noexcept {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t monotonic_ns() noexcept { return read_ns(CLOCK_MONOTONIC); }

#if defined(__x86_64__)

// The time-stamp counter as a monotonic clock. clock_gettime() costs 25-30 ns in a
// virtual machine whose clock source is kvm-clock (many cloud VMs), a `rdtsc` about a
// third of that, and a span reads the clock twice. An invariant TSC ticks at a constant
// rate on every core; its rate is measured against CLOCK_MONOTONIC and re-measured
// every second, so the clock follows CLOCK_MONOTONIC (and its NTP slewing) to within
// a microsecond or so.
//
// A reading takes the current calibration (an anchor: a TSC value and the nanoseconds
// it stands for, and a rate) and extrapolates from it: an rdtsc, four loads and a
// multiplication. The first reading more than a second past the anchor re-anchors: one
// thread at a time reads the two clocks side by side and publishes a new calibration,
// into the next of a ring of slots that a reader would have to hold on to for over a
// minute to see overwritten; the others extrapolate from the latest one meanwhile.
// Until the first rate is measured (10 ms after the first reading), and where the CPU
// has no invariant TSC or PRELA_CLOCK=system, readings are CLOCK_MONOTONIC's.
struct calibration {
  std::atomic<std::uint64_t> tsc{0};     // the anchor
  std::atomic<std::int64_t> ns{0};       // what the anchor stands for on this clock
  std::atomic<std::uint64_t> rate{0};    // nanoseconds per tick, 32.32 fixed point
  std::atomic<std::int64_t> true_ns{0};  // CLOCK_MONOTONIC read at the anchor
};

constexpr std::int64_t reanchor_ns = 1'000'000'000;
constexpr std::int64_t first_calibration_ns = 10'000'000;  // the first rate's baseline
constexpr std::int64_t max_offset_ns = 1'000'000;          // further off: start again from CLOCK_MONOTONIC

struct tsc_clock {
  std::array<calibration, 64> slots;
  std::atomic<const calibration*> current{nullptr};
  std::atomic<std::uint64_t> max_ticks{0};  // ticks per re-anchor interval
  std::atomic<bool> updating{false};
  std::atomic<bool> disabled{false};
  // Written under `updating`:
  std::uint32_t next_slot = 0;
  std::uint32_t restarts = 0;  // since the last good calibration
  bool started = false;        // the first anchor, before any rate is known
  std::uint64_t start_tsc = 0;
  std::int64_t start_ns = 0;
};

tsc_clock& tsc() noexcept {
  static tsc_clock c;
  return c;
}

// A fork() while another thread re-anchors leaves the child's flag set: clear it.
[[maybe_unused]] const bool fork_handler_registered = [] {
  pthread_atfork(nullptr, nullptr, [] { tsc().updating.store(false, std::memory_order_relaxed); });
  return true;
}();

bool invariant_tsc() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000U, &a, &b, &c, &d) == 0 || a < 0x80000007U) return false;
  __get_cpuid(0x80000007U, &a, &b, &c, &d);
  return (d & (1U << 8)) != 0;
}

enum class choice { unset, tsc, system, invalid };

// PRELA_CLOCK, read once (trimmed, either case). Nothing here reports: a diagnostic
// handler that reads the clock must not find this initialisation in progress.
choice read_choice() noexcept {
  try {
    const auto v = detail::env("PRELA_CLOCK");
    if (!v) return choice::unset;
    const std::string name = detail::lower(detail::trimmed(*v));
    if (name == "tsc") return choice::tsc;
    if (name == "system") return choice::system;
  } catch (...) {  // out of memory: as if unset
    return choice::unset;
  }
  return choice::invalid;
}

bool tsc_wanted() noexcept {
  static const choice chosen = read_choice();
  static const bool invariant = invariant_tsc();
  static std::atomic<bool> reported{false};
  if ((chosen == choice::invalid || (chosen == choice::tsc && !invariant)) &&
      !reported.exchange(true, std::memory_order_relaxed)) {
    try {
      if (chosen == choice::invalid) {
        detail::warn_invalid("PRELA_CLOCK", detail::env("PRELA_CLOCK").value_or(""),
                             "tsc where the CPU's is invariant (valid: tsc, system)");
      } else {
        detail::diagnose(
            "prela: PRELA_CLOCK=tsc, but this CPU's TSC is not invariant; using the system clock");
      }
    } catch (...) {  // out of memory while describing
    }
  }
  return chosen != choice::system && invariant;
}

// Reads the TSC and CLOCK_MONOTONIC as close together as this thread manages.
void read_pair(std::uint64_t& ticks, std::int64_t& ns) noexcept {
  std::uint64_t best = ~std::uint64_t{0};
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t before = __rdtsc();
    const std::int64_t mono = monotonic_ns();
    const std::uint64_t after = __rdtsc();
    if (after >= before && after - before < best) {
      best = after - before;
      ticks = before + (after - before) / 2;
      ns = mono;
    }
  }
}

__extension__ using wide = __int128;

std::int64_t extrapolate(const calibration& c, std::uint64_t ticks) noexcept {
  const auto dt = static_cast<std::int64_t>(ticks - c.tsc.load(std::memory_order_relaxed));
  return c.ns.load(std::memory_order_relaxed) +
         static_cast<std::int64_t>((static_cast<wide>(dt) * c.rate.load(std::memory_order_relaxed)) >> 32);
}

// Under `updating`: calibration starts again from this reading (the first one; the
// counter went backwards or at an implausible rate; the clocks drifted far apart), and
// readings are CLOCK_MONOTONIC's until the new rate is measured. After three restarts
// with no good calibration between them, the TSC is not used again.
void restart(tsc_clock& clk, std::uint64_t ticks, std::int64_t true_ns) noexcept {
  clk.current.store(nullptr, std::memory_order_relaxed);
  if (clk.started && ++clk.restarts > 3) {
    clk.disabled.store(true, std::memory_order_relaxed);
    return;
  }
  clk.started = true;
  clk.start_tsc = ticks;
  clk.start_ns = true_ns;
}

// Under `updating`: anchors a new calibration at this moment and publishes it.
void reanchor(tsc_clock& clk) noexcept {
  std::uint64_t ticks = 0;
  std::int64_t true_ns = 0;
  read_pair(ticks, true_ns);
  const calibration* prev = clk.current.load(std::memory_order_relaxed);
  if (!clk.started) return restart(clk, ticks, true_ns);
  std::uint64_t base_tsc = clk.start_tsc;
  std::int64_t base_ns = clk.start_ns;
  if (prev != nullptr) {
    base_tsc = prev->tsc.load(std::memory_order_relaxed);
    base_ns = prev->true_ns.load(std::memory_order_relaxed);
  }
  const std::int64_t span_ns = true_ns - base_ns;
  if (ticks <= base_tsc) {
    // This core's counter a little behind the anchor's: try again later. Far behind:
    // the counter was reset.
    if (base_tsc - ticks < clk.max_ticks.load(std::memory_order_relaxed) / 1024) return;
    return restart(clk, ticks, true_ns);
  }
  if (span_ns < first_calibration_ns) return;  // too early to tell
  // The measured rate. Beyond 0.05-20 ns per tick (a 50 MHz to 20 GHz counter) the TSC
  // is not what it claims to be, or it stopped while the machine slept.
  const double measured = static_cast<double>(span_ns) / static_cast<double>(ticks - base_tsc);
  if (!(measured > 0.05 && measured < 20.0)) return restart(clk, ticks, true_ns);
  // Continue from where the previous calibration has got to, so that readings do not
  // jump, and steer the rate so that the offset from CLOCK_MONOTONIC is gone by the
  // next anchor. Far off (the VM was paused or migrated, the machine slept): calibrate
  // again from CLOCK_MONOTONIC.
  std::int64_t ns = true_ns;
  double rate = measured;
  if (prev != nullptr) {
    const std::int64_t continued = extrapolate(*prev, ticks);
    const std::int64_t offset = continued - true_ns;
    // The rate just measured spans the pause too, so it is not trusted either: a new
    // first calibration, over 10 ms of CLOCK_MONOTONIC readings.
    if (offset <= -max_offset_ns || offset >= max_offset_ns) return restart(clk, ticks, true_ns);
    ns = continued;
    rate = measured * (1.0 - static_cast<double>(offset) / static_cast<double>(reanchor_ns));
  }
  clk.restarts = 0;  // a good calibration: only restarts in a row disable the TSC
  calibration& slot = clk.slots[clk.next_slot++ % clk.slots.size()];
  slot.tsc.store(ticks, std::memory_order_relaxed);
  slot.ns.store(ns, std::memory_order_relaxed);
  slot.rate.store(static_cast<std::uint64_t>(rate * 4294967296.0), std::memory_order_relaxed);
  slot.true_ns.store(true_ns, std::memory_order_relaxed);
  clk.max_ticks.store(static_cast<std::uint64_t>(static_cast<double>(reanchor_ns) / measured),
                      std::memory_order_relaxed);
  clk.current.store(&slot, std::memory_order_release);
}

// Past the current calibration's interval, or before there is one. One thread at a
// time re-anchors; the others go on from the latest calibration (their readings stay
// on one line with the fast path's), or read CLOCK_MONOTONIC until there is one.
[[gnu::noinline]] std::int64_t slow_monotonic(tsc_clock& clk) noexcept {
  if (!tsc_wanted() || clk.disabled.load(std::memory_order_relaxed)) return monotonic_ns();
  bool expected = false;
  if (clk.updating.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    // Due unless another thread just re-anchored, or while the first rate's baseline is
    // still too short (a CLOCK_MONOTONIC reading is all that costs).
    const calibration* c = clk.current.load(std::memory_order_relaxed);
    bool due = false;
    if (c != nullptr) {
      due = static_cast<std::int64_t>(__rdtsc() - c->tsc.load(std::memory_order_relaxed)) >=
            static_cast<std::int64_t>(clk.max_ticks.load(std::memory_order_relaxed));
    } else {
      due = !clk.started || monotonic_ns() - clk.start_ns >= first_calibration_ns;
    }
    if (due && !clk.disabled.load(std::memory_order_relaxed)) reanchor(clk);
    clk.updating.store(false, std::memory_order_release);
  }
  const calibration* c = clk.current.load(std::memory_order_acquire);
  return c != nullptr ? extrapolate(*c, __rdtsc()) : monotonic_ns();
}

std::int64_t fast_monotonic() noexcept {
  tsc_clock& clk = tsc();
  const calibration* c = clk.current.load(std::memory_order_acquire);
  if (c != nullptr) [[likely]] {
    const std::uint64_t now = __rdtsc();
    // Unsigned: a reading before the anchor (another core's counter behind by a few
    // ticks) wraps around and takes the slow path, like one past the interval.
    if (now - c->tsc.load(std::memory_order_relaxed) < clk.max_ticks.load(std::memory_order_relaxed))
        [[likely]] {
      return extrapolate(*c, now);
    }
  }
  return slow_monotonic(clk);
}

#else

std::int64_t fast_monotonic() noexcept { return monotonic_ns(); }

#endif

struct clock_base {
  std::int64_t wall;
  std::int64_t mono;
};
const clock_base& base() noexcept {
  static const clock_base b{read_ns(CLOCK_REALTIME), fast_monotonic()};
  return b;
}

}  // namespace

std::chrono::nanoseconds now_since_epoch() noexcept {
  const clock_base& b = base();
  return std::chrono::nanoseconds(b.wall + (fast_monotonic() - b.mono));
}

}  // namespace prela
