// A lock for critical sections of a few dozen instructions: a span's fields (set by
// its mutators, read once when it ends) and the span queue's push and swap. Taking it
// is one exchange; releasing it a plain store. A contending thread spins briefly, then
// yields its core to the holder (which may have been descheduled); it never sleeps in
// the kernel, which cost microseconds per wake-up when a producer and the export thread
// met on a std::mutex.
#pragma once

#include <atomic>

namespace prela::detail {

class spin_lock {
 public:
  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) [[likely]]
      return;
    lock_contended();
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  void lock_contended() noexcept;  // src/detail/spin_lock.cpp

  std::atomic<bool> locked_{false};
};

}  // namespace prela::detail
