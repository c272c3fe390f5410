#include "prela/clock.hpp"

namespace prela {
namespace {
struct clock_base {
  std::chrono::nanoseconds wall;
  std::chrono::steady_clock::time_point mono;
};
const clock_base& base() noexcept {
  static const clock_base b{std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch()),
                            std::chrono::steady_clock::now()};
  return b;
}
}  // namespace

std::chrono::nanoseconds now_since_epoch() noexcept {
  const clock_base& b = base();
  return b.wall +
         std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - b.mono);
}

}  // namespace prela
