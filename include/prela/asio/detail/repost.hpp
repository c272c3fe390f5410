// Handing a flow from one thread to the next: where and when a function whose flow is
// still claimed by another thread is posted again (context_executor.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "prela/context.hpp"

namespace prela::asio::detail {

// --- Handing a flow from one thread to the next ------------------------------------
//
// A flow's context is claimed while a function runs under it (flow_guard) and released
// when that function returns. A coroutine's next resumption can start on another thread
// as soon as the coroutine has suspended, a little before the function that ran it has
// returned on the first thread: the claim is still held, though nothing will touch the
// context any more. A function that finds its context installed elsewhere is therefore
// posted again to the same execution context: at once for the first few attempts, then
// after a timer whose delay doubles (20 us up to 6.4 ms, about 100 ms in all: long
// enough for an owner that the scheduler preempted in that window to run again). Only
// then does it run under its thread's own context, counted and reported as a mismatch.
// No thread ever waits or spins for a claim, and an owner that blocks (a handler waiting
// on work that needs its own flow) delays that work by the budget, never forever. Work
// that really runs concurrently in one flow (a misuse) ends up counted.

inline constexpr std::uint8_t immediate_reposts = 4;
inline constexpr std::uint8_t max_reposts = immediate_reposts + 16;

/// The delay before the n-th attempt to run a function whose flow was busy.
inline std::chrono::microseconds repost_delay(std::uint8_t n) noexcept {
  if (n <= immediate_reposts) return std::chrono::microseconds(0);
  const int doubling = std::min(n - immediate_reposts - 1, 8);
  return std::chrono::microseconds(20) * (1 << doubling);
}

/// Where a function can be posted again when its flow is busy. Over an io_context or a
/// thread_pool executor: that execution context (a pointer, no copy of a work-tracking
/// executor). Over any other executor, when `CopyOthers`: a copy of the executor
/// (context_executor's functions: handlers bound with bind_context and fork() flows,
/// which a task's resumption can find still claimed on another thread); otherwise
/// nowhere, and the function falls back at once (task executors over a strand, whose
/// resumptions the strand already serializes, are not made to copy it per resumption).
template <class Executor, bool CopyOthers>
class repost_target {
 public:
  explicit repost_target(const Executor& /*ex*/) noexcept {}
  template <class Run>
  bool post(Run&& /*run*/, std::uint8_t /*attempt*/) const {
    return false;
  }
};

template <class T>
struct is_io_or_pool_executor : std::false_type {};
template <class Allocator, std::uintptr_t Bits>
struct is_io_or_pool_executor<boost::asio::io_context::basic_executor_type<Allocator, Bits>>
    : std::true_type {};
template <class Allocator, unsigned int Bits>
struct is_io_or_pool_executor<boost::asio::thread_pool::basic_executor_type<Allocator, Bits>>
    : std::true_type {};

/// Posts `run` to `ex` now, or after repost_delay(attempt) on a timer of its own (the
/// function, and the coroutine frames it may own, are kept by the timer's handler and
/// destroyed unrun with it if the execution context is).
template <class Executor, class Run>
void post_again(const Executor& ex, Run&& run, std::uint8_t attempt) {
  const auto delay = repost_delay(attempt);
  if constexpr (std::is_constructible_v<boost::asio::any_io_executor, Executor>) {
    if (delay.count() != 0) {
      auto timer = std::make_shared<boost::asio::steady_timer>(ex, delay);
      timer->async_wait(
          [timer, r = std::forward<Run>(run)](const boost::system::error_code&) mutable { r(); });
      return;
    }
  }
  boost::asio::execution::execute(boost::asio::require(ex, boost::asio::execution::blocking.never),
                                  std::forward<Run>(run));
}

template <class Executor, bool CopyOthers>
  requires is_io_or_pool_executor<Executor>::value
class repost_target<Executor, CopyOthers> {
 public:
  explicit repost_target(const Executor& ex) noexcept
      : context_(&boost::asio::query(ex, boost::asio::execution::context)) {}
  template <class Run>
  bool post(Run&& run, std::uint8_t attempt) const {
    post_again(context_->get_executor(), std::forward<Run>(run), attempt);
    return true;
  }

 private:
  std::remove_cvref_t<decltype(boost::asio::query(std::declval<const Executor&>(),
                                                  boost::asio::execution::context))>* context_;
};

template <class Executor>
  requires(!is_io_or_pool_executor<Executor>::value &&
           boost::asio::can_require<const Executor&, boost::asio::execution::blocking_t::never_t>::value)
class repost_target<Executor, true> {
 public:
  explicit repost_target(const Executor& ex) : ex_(ex) {}
  template <class Run>
  bool post(Run&& run, std::uint8_t attempt) const {
    post_again(ex_, std::forward<Run>(run), attempt);
    return true;
  }

 private:
  Executor ex_;
};

}  // namespace prela::asio::detail
