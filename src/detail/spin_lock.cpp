#include "prela/detail/spin_lock.hpp"

#include <thread>

namespace prela::detail {

void spin_lock::lock_contended() noexcept {
  for (int spins = 0;; ++spins) {
    while (locked_.load(std::memory_order_relaxed)) {
      if (++spins > 64) {
        std::this_thread::yield();  // the holder may have been descheduled
      } else {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
  }
}

}  // namespace prela::detail
