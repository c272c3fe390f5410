// The batch span processor: a bounded queue filled by the threads that end spans, one
// collector thread that turns them into batches of span_data, and one delivery lane
// (its own thread and backlog) per exporter, so a slow or hung exporter delays nobody.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "detail/counters.hpp"
#include "detail/spin_lock.hpp"
#include "prela/exporter.hpp"
#include "prela/span.hpp"

namespace prela::detail {

struct batch_limits {
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;
  std::chrono::milliseconds schedule_delay{5000};
  std::chrono::milliseconds export_timeout{30000};
};

class batch_processor {
 public:
  batch_processor(batch_limits limits, std::vector<std::shared_ptr<exporter>> exporters,
                  std::shared_ptr<const resource> resource);
  ~batch_processor();
  batch_processor(const batch_processor&) = delete;
  batch_processor& operator=(const batch_processor&) = delete;

  /// Queues an ended span's record, built in place in the queue by `fill(span_data&)`
  /// (an ending span writes its record once, instead of building and moving it). Never
  /// blocks on export; returns false, counting a drop, when the queue is full or the
  /// processor is shut down. `fill` runs under the queue's lock and must not throw.
  template <class Fill>
  bool enqueue(Fill&& fill) noexcept {
    std::size_t size = 0;
    {
      std::lock_guard lock(queue_lock_);
      if (!accepting_ || queue_.size() >= limits_.max_queue_size) {
        count(counter::dropped);
        return false;
      }
      if (queue_.size() == queue_.capacity()) {  // the queue grows up to its limit
        try {
          queue_.reserve(std::min(queue_.capacity() * 2, limits_.max_queue_size));
        } catch (...) {  // out of memory: this span is dropped, counted
          count(counter::dropped);
          return false;
        }
      }
      fill(queue_.emplace_back());
      size = queue_.size();
      queued_.store(size, std::memory_order_relaxed);
    }
    wake_if_batch_full(size);
    return true;
  }
  /// Delivers everything queued so far and flushes the exporters.
  bool force_flush(std::chrono::milliseconds timeout);
  /// Stops accepting spans, delivers what is queued, shuts the exporters down and stops
  /// the threads. A lane still inside its exporter at the deadline is left to finish on
  /// its own (detached); shutdown then returns false.
  bool shutdown(std::chrono::milliseconds timeout);

 private:
  struct lane;
  struct completion;
  using clock = std::chrono::steady_clock;

  void wake_if_batch_full(std::size_t size) noexcept;
  void collect();
  void deliver(std::vector<span_data>& spans);
  bool wait_for_lanes(std::uint64_t ticket, clock::time_point deadline);

  const batch_limits limits_;
  const std::shared_ptr<const resource> resource_;
  std::shared_ptr<completion> completion_;
  std::vector<std::shared_ptr<lane>> lanes_;

  // The queue: pushed by the threads ending spans, swapped out by the collector.
  spin_lock queue_lock_;
  std::vector<span_data> queue_;       // capacity reserved: pushing never allocates
  bool accepting_ = true;              // guarded by queue_lock_
  std::atomic<std::size_t> queued_{0};  // queue_.size(), for the collector's wake-up test

  // The collector's sleep, and the requests that end it.
  std::mutex mu_;
  std::condition_variable wake_;
  std::uint64_t flush_requested_ = 0;  // tickets handed out by force_flush/shutdown
  bool stopping_ = false;
  std::thread collector_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  std::atomic<bool> shutdown_result_{true};  // read by force_flush after shutdown
};

}  // namespace prela::detail
