// A lock for critical sections of a few dozen instructions (the span queue's push and
// swap). Unlike std::mutex it never puts a contending thread to sleep in the kernel,
// which cost microseconds per wake-up when a producer and the export thread met.
#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace prela::detail {

class spin_lock {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          std::this_thread::yield();  // the holder may have been descheduled
        } else {
#if defined(__x86_64__) || defined(__i386__)
          _mm_pause();
#endif
        }
      }
    }
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace prela::detail
