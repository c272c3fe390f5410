// The batch span processor: a bounded queue of compact records (span_record.hpp) filled
// by the threads that end spans, one collector thread that turns them into batches of
// span_data, and one delivery lane
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
#include "detail/span_record.hpp"
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

  /// Queues an ended span: its record (span_record.hpp) is written into the queue's
  /// current chunk of bytes, under the queue's lock; a record larger than a chunk is
  /// written into one of its own first, outside the lock. Never blocks on export;
  /// returns false, counting a drop, when the queue is full, memory for a chunk cannot
  /// be had, or the processor is shut down.
  bool enqueue(const span_view& s) noexcept;
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
  struct chunk;
  struct chunk_list {
    chunk* head = nullptr;
    chunk* tail = nullptr;
    std::size_t size = 0;
    void push_back(chunk* c) noexcept;
    chunk* pop_front() noexcept;
  };
  using clock = std::chrono::steady_clock;

  void wake_if_batch_full(std::size_t size) noexcept;
  chunk* take_chunk() noexcept;  // under queue_lock_
  void recycle_chunks(chunk_list used) noexcept;
  static void free_chunks(chunk_list list) noexcept;
  void collect();
  std::size_t deliver();  // the number of spans taken from the queue
  bool wait_for_lanes(std::uint64_t ticket, clock::time_point deadline);

  const batch_limits limits_;
  const std::size_t falling_behind_;  // queued spans that wake a polling collector (3/4)
  const bool may_poll_;               // more than one CPU to run on
  const std::shared_ptr<const resource> resource_;
  std::shared_ptr<completion> completion_;
  std::shared_ptr<batch_pool> pool_;  // exported batches, their records kept for reuse
  std::vector<std::shared_ptr<lane>> lanes_;

  // The queue: records written by the threads ending spans into chunks of bytes, taken
  // by the collector, which turns them into span_data. Emptied chunks wait in idle_,
  // oldest first reused (see take_chunk).
  spin_lock queue_lock_;
  chunk* current_ = nullptr;            // guarded by queue_lock_: the chunk being written
  chunk_list filled_;                   // guarded by queue_lock_: full chunks, oldest first
  chunk_list idle_;                     // guarded by queue_lock_
  std::size_t queue_size_ = 0;          // guarded by queue_lock_: records in current_ and filled_
  bool accepting_ = true;               // guarded by queue_lock_
  std::atomic<std::size_t> queued_{0};  // queue_size_, for the collector's wake-up test
  std::atomic<bool> polling_{false};    // the collector polls: no wake-up needed

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
