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
#include "prela/detail/spin_lock.hpp"
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

  /// Queues an ended span's record, written by `fill(span_data&)` into a record the
  /// queue reuses: the strings and vectors of spans exported earlier keep their
  /// buffers, so a span whose strings fit in them costs no allocation (and its buffers
  /// are not freed on the export thread). `fill` sets every field but `resource`,
  /// assigning strings and swapping vectors in, runs under the queue's lock and must
  /// not throw. Never blocks on export; returns false, counting a drop, when the queue
  /// is full or the processor is shut down.
  template <class Fill>
  bool enqueue(Fill&& fill) noexcept {
    std::size_t size = 0;
    {
      std::lock_guard lock(queue_lock_);
      if (!accepting_ || queue_size_ >= limits_.max_queue_size) {
        count(counter::dropped);
        return false;
      }
      if (queue_size_ == queue_.size()) {  // the queue grows up to its limit
        try {
          queue_.resize(std::min(std::max<std::size_t>(queue_.size() * 2, 64), limits_.max_queue_size));
        } catch (...) {  // out of memory: this span is dropped, counted
          count(counter::dropped);
          return false;
        }
      }
      fill(queue_[queue_size_]);
      size = ++queue_size_;
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
  struct batch;
  struct batch_pool;
  using clock = std::chrono::steady_clock;

  void wake_if_batch_full(std::size_t size) noexcept;
  void collect();
  void deliver();
  bool wait_for_lanes(std::uint64_t ticket, clock::time_point deadline);

  const batch_limits limits_;
  const std::shared_ptr<const resource> resource_;
  std::shared_ptr<completion> completion_;
  std::shared_ptr<batch_pool> pool_;  // exported batches, their records kept for reuse
  std::vector<std::shared_ptr<lane>> lanes_;

  // The queue: filled by the threads ending spans, swapped out by the collector. Its
  // records past queue_size_ are spare ones, waiting to be written over.
  spin_lock queue_lock_;
  std::vector<span_data> queue_;        // guarded by queue_lock_
  std::size_t queue_size_ = 0;          // guarded by queue_lock_
  bool accepting_ = true;               // guarded by queue_lock_
  std::atomic<std::size_t> queued_{0};  // queue_size_, for the collector's wake-up test

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
