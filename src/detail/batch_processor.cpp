#include "detail/batch_processor.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include "detail/tracer_impl.hpp"

namespace prela::detail {

// Spans the exporter running on this lane thread said its receiver rejected although
// the batch was accepted (exporter::report_rejected).
thread_local std::size_t rejected_in_export = 0;

constexpr std::size_t initial_queue_capacity = 4096;

// Where lanes report progress; shared with the lanes so that a lane detached at
// shutdown can still report safely after the processor is gone.
struct batch_processor::completion {
  std::mutex mu;
  std::condition_variable changed;
};

struct batch_processor::lane {
  struct item {
    std::shared_ptr<const std::vector<span_data>> batch;  // null for a flush or stop marker
    std::uint64_t flush_ticket = 0;                       // non-zero: flush the exporter
    bool stop = false;
    clock::time_point deadline{};
  };

  std::shared_ptr<exporter> target;
  std::shared_ptr<completion> done;
  std::size_t capacity = 0;  // spans waiting in this lane at most

  std::mutex mu;
  std::condition_variable has_work;
  std::deque<item> items;
  std::size_t queued_spans = 0;

  // Guarded by done->mu.
  std::uint64_t flushed_ticket = 0;
  bool flush_ok = true;
  bool exited = false;
  bool shutdown_ok = true;

  std::thread thread;

  void push(item it) {
    {
      std::lock_guard lock(mu);
      if (it.batch) {
        if (queued_spans + it.batch->size() > capacity) {
          count(counter::dropped, it.batch->size());
          return;
        }
        queued_spans += it.batch->size();
      }
      items.push_back(std::move(it));
    }
    has_work.notify_one();
  }

  /// Gives up on a lane whose exporter did not finish by shutdown's deadline: what it
  /// still holds is dropped and counted now (not whenever the exporter returns, which
  /// may be after the process ended), and the lane exits after the export in progress,
  /// which is counted when it returns.
  void abandon() {
    {
      std::lock_guard lock(mu);
      count(counter::dropped, queued_spans);
      queued_spans = 0;
      items.clear();
      items.push_back({nullptr, 0, true, clock::now()});
    }
    has_work.notify_one();
  }

  static std::chrono::milliseconds remaining(clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  void run() {
    for (;;) {
      item it;
      {
        std::unique_lock lock(mu);
        has_work.wait(lock, [&] { return !items.empty(); });
        it = std::move(items.front());
        items.pop_front();
        if (it.batch) queued_spans -= it.batch->size();
      }
      if (it.batch) {
        export_result result = export_result::failure;
        rejected_in_export = 0;
        try {
          result = target->export_spans(std::span<const span_data>(*it.batch));
        } catch (...) {  // an exporter's exception must not end the lane
          result = export_result::failure;
        }
        const std::size_t n = it.batch->size();
        if (result == export_result::success) {
          const std::size_t rejected = std::min(rejected_in_export, n);
          count(counter::exported, n - rejected);
          if (rejected != 0) count(counter::export_failures, rejected);
        } else {
          count(counter::export_failures, n);
        }
      }
      if (it.flush_ticket != 0) {
        bool ok = false;
        try {
          ok = target->force_flush(remaining(it.deadline));
        } catch (...) {
        }
        std::lock_guard lock(done->mu);
        flushed_ticket = std::max(flushed_ticket, it.flush_ticket);
        flush_ok = flush_ok && ok;
        done->changed.notify_all();
      }
      if (it.stop) {
        bool ok = false;
        try {
          ok = target->shutdown(remaining(it.deadline));
        } catch (...) {
        }
        std::lock_guard lock(done->mu);
        exited = true;
        shutdown_ok = ok;
        done->changed.notify_all();
        return;
      }
    }
  }
};

batch_processor::batch_processor(batch_limits limits, std::vector<std::shared_ptr<exporter>> exporters,
                                 std::shared_ptr<const resource> resource)
    : limits_(limits), resource_(std::move(resource)), completion_(std::make_shared<completion>()) {
  // The queue grows as spans arrive, up to max_queue_size (at most 2^24): reserving the
  // whole of a large limit up front would allocate gigabytes no load may ever use.
  queue_.reserve(std::min<std::size_t>(limits_.max_queue_size, initial_queue_capacity));
  for (auto& e : exporters) {
    if (!e) continue;
    auto l = std::make_shared<lane>();
    l->target = std::move(e);
    l->done = completion_;
    l->capacity = limits_.max_queue_size;
    lanes_.push_back(l);
  }
  for (auto& l : lanes_) {
    l->thread = std::thread([l] { l->run(); });  // the lane owns itself while it runs
  }
  collector_ = std::thread([this] { collect(); });
}

batch_processor::~batch_processor() { shutdown(limits_.export_timeout); }

void batch_processor::wake_if_batch_full(std::size_t size) noexcept {
  // Wake the collector once per full batch, not once per span. Taking mu_ orders this
  // with the collector's test-then-sleep, so the wake-up cannot be lost.
  if (size == limits_.max_export_batch_size) {
    { std::lock_guard lock(mu_); }
    wake_.notify_one();
  }
}

void batch_processor::collect() {
  std::vector<span_data> taken;
  taken.reserve(std::min<std::size_t>(limits_.max_queue_size, initial_queue_capacity));
  std::uint64_t flushed = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    const auto deadline = clock::now() + limits_.schedule_delay;
    wake_.wait_until(lock, deadline, [&] {
      return queued_.load(std::memory_order_relaxed) >= limits_.max_export_batch_size ||
             flush_requested_ > flushed || stopping_;
    });
    const std::uint64_t ticket = flush_requested_;
    const bool stop = stopping_;
    lock.unlock();
    {
      std::lock_guard queue_lock(queue_lock_);
      taken.swap(queue_);
      queued_.store(0, std::memory_order_relaxed);
    }

    deliver(taken);
    if (ticket > flushed) {
      // Lanes are FIFO: the marker follows every batch handed out above.
      const auto flush_deadline = clock::now() + limits_.export_timeout;
      for (auto& l : lanes_) l->push({nullptr, ticket, false, flush_deadline});
      if (lanes_.empty()) {
        std::lock_guard done(completion_->mu);
        completion_->changed.notify_all();
      }
      flushed = ticket;
    }
    if (stop) return;  // nothing was accepted after accepting_ turned false
    lock.lock();
  }
}

void batch_processor::deliver(std::vector<span_data>& spans) {
  const std::size_t batch_size = std::max<std::size_t>(1, limits_.max_export_batch_size);
  for (std::size_t first = 0; first < spans.size(); first += batch_size) {
    const std::size_t last = std::min(spans.size(), first + batch_size);
    if (lanes_.empty()) continue;
    auto batch = std::make_shared<std::vector<span_data>>();
    batch->reserve(last - first);
    for (std::size_t i = first; i < last; ++i) {
      batch->push_back(std::move(spans[i]));
      batch->back().resource = resource_;
    }
    std::shared_ptr<const std::vector<span_data>> shared = std::move(batch);
    for (auto& l : lanes_) l->push({shared, 0, false, {}});
  }
  spans.clear();
}

bool batch_processor::wait_for_lanes(std::uint64_t ticket, clock::time_point deadline) {
  std::unique_lock lock(completion_->mu);
  const bool reached = completion_->changed.wait_until(lock, deadline, [&] {
    return std::all_of(lanes_.begin(), lanes_.end(),
                       [&](const auto& l) { return l->flushed_ticket >= ticket; });
  });
  return reached && std::all_of(lanes_.begin(), lanes_.end(), [](const auto& l) { return l->flush_ok; });
}

bool batch_processor::force_flush(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  std::uint64_t ticket = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return shutdown_result_;
    ticket = ++flush_requested_;
  }
  wake_.notify_one();
  return wait_for_lanes(ticket, deadline);
}

bool batch_processor::shutdown(std::chrono::milliseconds timeout) {
  std::lock_guard once(shutdown_mu_);
  if (shut_down_) return shutdown_result_;
  const auto deadline = clock::now() + timeout;
  std::uint64_t ticket = 0;
  {
    std::lock_guard queue_lock(queue_lock_);
    accepting_ = false;  // before stopping_: the collector's last swap takes every accepted span
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    ticket = ++flush_requested_;
  }
  wake_.notify_one();
  collector_.join();  // quick: the collector never waits for an exporter
  bool ok = wait_for_lanes(ticket, deadline);
  for (auto& l : lanes_) l->push({nullptr, 0, true, deadline});
  {
    std::unique_lock lock(completion_->mu);
    const bool all_exited = completion_->changed.wait_until(lock, deadline, [&] {
      return std::all_of(lanes_.begin(), lanes_.end(), [](const auto& l) { return l->exited; });
    });
    ok = ok && all_exited;
    for (auto& l : lanes_) ok = ok && (!l->exited || l->shutdown_ok);
  }
  for (auto& l : lanes_) {
    bool exited = false;
    {
      std::lock_guard lock(completion_->mu);
      exited = l->exited;
    }
    if (exited) {
      l->thread.join();
      l->target.reset();  // the configuration outlives shutdown; the exporter need not
    } else {
      l->abandon();
      l->thread.detach();  // stuck inside its exporter; it owns its own state
    }
  }
  {
    std::lock_guard queue_lock(queue_lock_);
    std::vector<span_data>().swap(queue_);
  }
  shutdown_result_.store(ok);
  shut_down_ = true;
  return ok;
}

}  // namespace prela::detail

void prela::exporter::report_rejected(std::size_t spans) noexcept { detail::rejected_in_export += spans; }
