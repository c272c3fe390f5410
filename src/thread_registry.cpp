// The thread registry: every thread that traces is listed, with its SDK state, so that
// tracer::stats() can add up the threads' counters, the tracer can tell whether a
// replaced configuration is still pinned, and prela::inflight() can see which flow runs
// where. A thread lists itself on first need and leaves at exit.
#include <atomic>
#include <cstddef>
#include <iterator>
#include <mutex>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

#include "detail/counters.hpp"
#include "detail/fork.hpp"
#include "detail/inflight.hpp"
#include "detail/sdk_thread_state.hpp"
#include "detail/tracer_impl.hpp"

namespace prela::detail {

constinit thread_local sdk_thread_state sdk_tls{};

namespace {
std::mutex registry_mu;
sdk_thread_state* live_threads = nullptr;                       // guarded by registry_mu
std::atomic<std::uint64_t> retired_counts[counter_slots] = {};  // what exited threads counted

// Registered when the thread is listed; runs at thread exit. (A thread that started
// spans registered the span cache's cleanup after this one, so that one has run
// already.)
struct registry_cleanup {
  ~registry_cleanup() {
    retire_thread_counts();
    inflight_release_thread();
  }
};
}  // namespace

void register_thread() {
  sdk_thread_state& s = sdk_tls;
  if (s.phase != registry_phase::unlisted) return;
  static thread_local registry_cleanup cleanup;
  (void)cleanup;  // odr-use: constructs it, so its destructor runs at thread exit
  s.thread_id = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  s.runtime = &tls;
  {
    std::lock_guard lock(registry_mu);
    s.next = live_threads;
    live_threads = &s;
    s.pinned_config.store(nullptr, std::memory_order_relaxed);
  }
  s.phase = registry_phase::listed;
  tls.listed = true;
}

std::vector<installed_flow> installed_flows() {
  std::vector<installed_flow> out;
  std::lock_guard lock(registry_mu);
  for (const sdk_thread_state* t = live_threads; t != nullptr; t = t->next) {
    if (const void* c = t->runtime->current.load(std::memory_order_relaxed)) out.push_back({c, t->thread_id});
  }
  return out;
}

bool config_pinned(const void* config) noexcept {
  std::lock_guard lock(registry_mu);
  for (const sdk_thread_state* t = live_threads; t != nullptr; t = t->next) {
    if (t->pinned_config.load(std::memory_order_seq_cst) == config) return true;
  }
  return false;
}

void forget_other_threads_pins() noexcept {
  for (sdk_thread_state* t = live_threads; t != nullptr; t = t->next) {
    if (t != &sdk_tls) {
      t->pinned_config.store(nullptr, std::memory_order_relaxed);
      t->runtime->current.store(nullptr, std::memory_order_relaxed);  // runs nothing in this process
    }
  }
  unlisted_pins.store(0, std::memory_order_relaxed);
}

void lock_threads_for_fork() noexcept { registry_mu.lock(); }
void unlock_threads_after_fork() noexcept { registry_mu.unlock(); }

void count_slow(counter c, std::uint64_t n) noexcept {
  if (sdk_tls.phase == registry_phase::unlisted) {
    register_thread();
    count(c, n);
    return;
  }
  retired_counts[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t total(counter c) noexcept {
  const auto i = static_cast<std::size_t>(c);
  std::lock_guard lock(registry_mu);
  std::uint64_t sum = retired_counts[i].load(std::memory_order_relaxed);
  for (const sdk_thread_state* t = live_threads; t != nullptr; t = t->next) {
    sum += t->counts[i].load(std::memory_order_relaxed);
  }
  return sum;
}

void retire_thread_counts() noexcept {
  sdk_thread_state& s = sdk_tls;
  std::lock_guard lock(registry_mu);
  s.phase = registry_phase::exited;  // from now on this thread counts into the shared totals
  s.pinned_config.store(&unlisted_thread, std::memory_order_relaxed);
  for (std::size_t i = 0; i < std::size(retired_counts); ++i) {
    retired_counts[i].fetch_add(s.counts[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
    s.counts[i].store(0, std::memory_order_relaxed);
  }
  for (sdk_thread_state** p = &live_threads; *p != nullptr; p = &(*p)->next) {
    if (*p == &s) {
      *p = s.next;
      break;
    }
  }
}

}  // namespace prela::detail
