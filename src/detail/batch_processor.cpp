#include "detail/batch_processor.hpp"

#include <sched.h>

#include <algorithm>
#include <deque>
#include <string>
#include <utility>
#include <variant>

#include "detail/tracer_impl.hpp"

namespace prela::detail {

// Spans the exporter running on this lane thread said its receiver rejected although
// the batch was accepted (exporter::report_rejected).
thread_local std::size_t rejected_in_export = 0;

// The queue's chunks of record bytes. A chunk is reused once more than min_idle_chunks
// are idle, the one idle longest first; the ending thread prefetches its lines ahead
// of writing them (prefetch_for_write), so lines the collector read shortly before
// cost it no wait. Chunks idle for longer than max_idle_time are freed: a busy process
// keeps between min_idle_chunks and max_idle_chunks idle (256 KiB to 1.25 MiB) besides
// those holding queued records, a quiet one only the chunks that went idle in the
// second before the collector's latest pass (recycle_chunks frees the others) or since.
constexpr std::size_t chunk_bytes = std::size_t{64} << 10;
constexpr std::size_t min_idle_chunks = 4;
constexpr std::size_t max_idle_chunks = min_idle_chunks + 16;
constexpr std::chrono::seconds max_idle_time{1};

// While spans arrive faster than a batch per wake-up, the collector polls the queue
// this often instead of sleeping until the thread that fills a batch wakes it: a
// wake-up is a system call on the application's thread (several microseconds on a
// virtual machine), a poll costs only the collector. Not on a single CPU: there a
// poll's timer does not get the collector scheduled before the queue overflows,
// and a wake-up does.
constexpr std::chrono::microseconds poll_interval{50};

std::size_t usable_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return static_cast<std::size_t>(CPU_COUNT(&set));
}

struct batch_processor::chunk {
  std::size_t capacity = 0;
  std::size_t used = 0;     // bytes written
  std::size_t records = 0;  // records written
  std::chrono::steady_clock::time_point idle_since{};
  chunk* next = nullptr;
  std::unique_ptr<std::byte[]> bytes;

  static chunk* make(std::size_t capacity) noexcept {
    auto* c = new (std::nothrow) chunk;
    if (c == nullptr) return nullptr;
    c->bytes.reset(new (std::nothrow) std::byte[capacity]);
    if (!c->bytes) {
      delete c;
      return nullptr;
    }
    c->capacity = capacity;
    return c;
  }
};

// The ending thread asks for the chunk's lines a little ahead of where it writes, for
// writing (prefetchw): a line of a reused chunk is in memory or in the collector's
// core's caches, and a store that misses it holds the thread's later stores behind it
// until the line arrives. Requested write_ahead bytes early, the line is in this core's
// cache, owned, by the time a record is written into it (performance.md, "Handing spans
// to the export thread").
constexpr std::size_t write_ahead = 512;
constexpr std::size_t cache_line = 64;

void prefetch_for_write(const std::byte* p) noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // GCC's __builtin_prefetch emits prefetchw only where -march says the CPU has it; every
  // x86-64 CPU runs it (those before Broadwell as a no-op).
  asm volatile("prefetchw %0" : : "m"(*p));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

void batch_processor::chunk_list::push_back(chunk* c) noexcept {
  c->next = nullptr;
  if (tail != nullptr) {
    tail->next = c;
  } else {
    head = c;
  }
  tail = c;
  ++size;
}

batch_processor::chunk* batch_processor::chunk_list::pop_front() noexcept {
  chunk* c = head;
  if (c == nullptr) return nullptr;
  head = c->next;
  if (head == nullptr) tail = nullptr;
  --size;
  c->next = nullptr;
  return c;
}

// What the collector took from the queue in one go, handed to the lanes in slices of
// max_export_batch_size. Its records outlive the export: when the last lane is done
// with them, the pool trims them (keeping their buffers) and the collector decodes
// the next records into them. Only the collector and the lanes touch them.
struct batch_processor::batch {
  std::vector<span_data> records;
  std::size_t size = 0;  // records in use; the rest are spare
};

struct batch_processor::batch_pool {
  // Idle batches kept at most; buffers kept per record at most (larger ones are freed,
  // so one huge span does not stay resident).
  static constexpr std::size_t max_idle = 4;
  static constexpr std::size_t max_kept_attributes = 16;
  static constexpr std::size_t max_kept_events = 4;
  static constexpr std::size_t max_kept_chars = 128;

  std::mutex mu;
  std::vector<std::unique_ptr<batch>> idle;

  std::unique_ptr<batch> take() {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        auto b = std::move(idle.back());
        idle.pop_back();
        return b;
      }
    }
    return std::make_unique<batch>();
  }

  void give_back(batch* b) noexcept {
    std::unique_ptr<batch> owned(b);  // declared first: destroyed after the lock below
    for (std::size_t i = 0; i < b->size; ++i) trim(b->records[i]);
    b->size = 0;
    std::lock_guard lock(mu);
    if (idle.size() < max_idle) {
      try {
        idle.push_back(std::move(owned));
      } catch (...) {  // out of memory: the batch is freed instead
      }
    }
  }  // a batch not kept is freed here, after the lock

  // Decoding a record (decode_record) overwrites every field but the resource, which
  // is the same for every record of a processor; so a record keeps its contents
  // between uses, and only buffers larger than the limits above are freed here.
  static void trim(span_data& r) noexcept {
    if (r.attributes.capacity() > max_kept_attributes) {
      prela::attributes().swap(r.attributes);
    } else {
      for (attribute& a : r.attributes) {
        const auto* str = std::get_if<std::string>(&a.value.variant());
        if (a.key.capacity() > max_kept_chars || a.value.index() > 3 ||
            (str != nullptr && str->capacity() > max_kept_chars)) {
          a = attribute();  // a list, or a long string
        }
      }
    }
    r.events.clear();  // rare: not worth keeping
    if (r.events.capacity() > max_kept_events) std::vector<span_event>().swap(r.events);
    for (std::string* s : {&r.name, &r.status_message, &r.trace_state}) {
      if (s->capacity() > max_kept_chars) std::string().swap(*s);
    }
  }
};

// Where lanes report progress; shared with the lanes so that a lane detached at
// shutdown can still report safely after the processor is gone.
struct batch_processor::completion {
  std::mutex mu;
  std::condition_variable changed;
};

struct batch_processor::lane {
  struct item {
    std::shared_ptr<const batch_processor::batch> batch;  // null for a flush or stop marker
    std::size_t first = 0;                                // the slice of batch->records
    std::size_t size = 0;
    std::uint64_t flush_ticket = 0;  // non-zero: flush the exporter
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

  void push(item it) noexcept {
    {
      std::lock_guard lock(mu);
      const std::size_t spans = it.batch ? it.size : 0;
      if (queued_spans + spans > capacity) {
        count(counter::dropped, spans);
        return;
      }
      try {
        items.push_back(std::move(it));
      } catch (...) {                    // out of memory: the slice is dropped, counted (a marker is lost:
        count(counter::dropped, spans);  // its flush or shutdown then times out)
        return;
      }
      queued_spans += spans;
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
      items.push_back({nullptr, 0, 0, 0, true, clock::now()});
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
        if (it.batch) queued_spans -= it.size;
      }
      if (it.batch) {
        export_result result = export_result::failure;
        rejected_in_export = 0;
        try {
          result =
              target->export_spans(std::span<const span_data>(it.batch->records.data() + it.first, it.size));
        } catch (...) {  // an exporter's exception must not end the lane
          result = export_result::failure;
        }
        const std::size_t n = it.size;
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
    : limits_(limits),
      falling_behind_(std::max<std::size_t>(limits.max_export_batch_size, limits.max_queue_size / 4 * 3)),
      may_poll_(usable_cpus() > 1),
      resource_(std::move(resource)),
      completion_(std::make_shared<completion>()),
      pool_(std::make_shared<batch_pool>()) {
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
  // Wake the collector once per full batch, not once per span; while it polls, only
  // when the queue is three quarters full (it is falling behind). Taking mu_ orders this with
  // the collector's test-then-sleep, so the wake-up cannot be lost; the fence pairs
  // with the one in collect() after polling_ turns false: either this thread sees it
  // false, or the collector's test sees this span queued.
  if (size == falling_behind_) {
    std::lock_guard lock(mu_);
  } else if (size == limits_.max_export_batch_size) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (polling_.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mu_);
  } else {
    return;
  }
  wake_.notify_one();
}

void batch_processor::collect() {
  std::uint64_t flushed = 0;
  bool polling = false;
  std::unique_lock lock(mu_);
  for (;;) {
    const std::size_t wake_at = polling ? falling_behind_ : limits_.max_export_batch_size;
    wake_.wait_until(lock, clock::now() + (polling ? poll_interval : limits_.schedule_delay), [&] {
      return queued_.load(std::memory_order_relaxed) >= wake_at || flush_requested_ > flushed || stopping_;
    });
    const std::uint64_t ticket = flush_requested_;
    const bool stop = stopping_;
    lock.unlock();
    const std::size_t taken = deliver();
    if (ticket > flushed) {
      // Lanes are FIFO: the marker follows every batch handed out above.
      const auto flush_deadline = clock::now() + limits_.export_timeout;
      for (auto& l : lanes_) l->push({nullptr, 0, 0, ticket, false, flush_deadline});
      if (lanes_.empty()) {
        std::lock_guard done(completion_->mu);
        completion_->changed.notify_all();
      }
      flushed = ticket;
    }
    if (stop) return;  // nothing was accepted after accepting_ turned false
    // Poll while spans arrive fast: from a full batch on, for as long as each poll
    // finds at least an eighth of one.
    const std::size_t batch = limits_.max_export_batch_size;
    const bool keep_polling =
        may_poll_ && (polling ? taken >= std::max<std::size_t>(1, batch / 8) : taken >= batch);
    if (keep_polling != polling) {
      polling = keep_polling;
      polling_.store(polling, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wake_if_batch_full's
    }
    lock.lock();
  }
}

bool batch_processor::enqueue(const span_view& s) noexcept {
  const std::size_t size = record_size(s);
  chunk* own = nullptr;
  if (size > chunk_bytes) {  // a chunk of its own, written before taking the lock
    own = chunk::make(size);
    if (own == nullptr) {
      count(counter::dropped);
      return false;
    }
    encode_record(s, own->bytes.get());
    own->used = size;
    own->records = 1;
  }
  std::size_t queued = 0;
  {
    std::lock_guard lock(queue_lock_);
    if (!accepting_ || queue_size_ >= limits_.max_queue_size) {
      queued = 0;
    } else if (own != nullptr) {
      if (current_ != nullptr) filled_.push_back(std::exchange(current_, nullptr));
      filled_.push_back(std::exchange(own, nullptr));
      queued = ++queue_size_;
    } else {
      if (current_ == nullptr || current_->capacity - current_->used < size) {
        if (chunk* next = take_chunk()) {
          if (current_ != nullptr) filled_.push_back(current_);
          current_ = next;
        }
      }
      if (current_ != nullptr && current_->capacity - current_->used >= size) {
        encode_record(s, current_->bytes.get() + current_->used);
        current_->used += size;
        ++current_->records;
        // The lines the next records of this size will take, write_ahead bytes on (at
        // most write_ahead bytes of them: a large record costs no more prefetches).
        const std::size_t end =
            std::min(current_->capacity, current_->used + write_ahead + std::min(size, write_ahead));
        for (std::size_t at = current_->used + write_ahead; at < end; at += cache_line) {
          prefetch_for_write(current_->bytes.get() + at);
        }
        queued = ++queue_size_;
      }
    }
    if (queued != 0) queued_.store(queued, std::memory_order_relaxed);
  }
  if (queued == 0) {  // full, shut down, or out of memory
    delete own;
    count(counter::dropped);
    return false;
  }
  wake_if_batch_full(queued);
  return true;
}

batch_processor::chunk* batch_processor::take_chunk() noexcept {
  if (idle_.size > min_idle_chunks) return idle_.pop_front();
  if (chunk* c = chunk::make(chunk_bytes)) return c;
  return idle_.pop_front();  // out of memory: reuse sooner, or drop if there is none
}

void batch_processor::recycle_chunks(chunk_list used) noexcept {
  const auto now = clock::now();
  chunk_list surplus;
  {
    std::lock_guard lock(queue_lock_);
    while (chunk* c = used.pop_front()) {
      if (c->capacity == chunk_bytes && idle_.size < max_idle_chunks && accepting_) {
        c->used = 0;
        c->records = 0;
        c->idle_since = now;
        idle_.push_back(c);
      } else {
        surplus.push_back(c);
      }
    }
    while (idle_.head != nullptr && now - idle_.head->idle_since > max_idle_time) {
      surplus.push_back(idle_.pop_front());
    }
  }
  free_chunks(surplus);  // freed outside the lock
}

void batch_processor::free_chunks(chunk_list list) noexcept {
  while (chunk* c = list.pop_front()) delete c;
}

std::size_t batch_processor::deliver() {
  chunk_list taken;
  std::size_t n = 0;
  {
    std::lock_guard queue_lock(queue_lock_);
    if (current_ != nullptr) filled_.push_back(std::exchange(current_, nullptr));
    taken = std::exchange(filled_, chunk_list{});
    n = std::exchange(queue_size_, 0);
    queued_.store(0, std::memory_order_relaxed);
  }
  if (n == 0 || lanes_.empty()) {
    recycle_chunks(taken);
    return n;
  }
  std::unique_ptr<batch> b;
  try {
    b = pool_->take();
    if (b->records.size() < n) b->records.resize(n);
  } catch (...) {  // out of memory: these spans are dropped, counted
    count(counter::dropped, n);
    if (b) pool_->give_back(b.release());
    recycle_chunks(taken);
    return n;
  }
  // Mostly spare records (a flush, or quiet traffic after a burst): shed them, so that
  // a slow exporter's backlog holds its spans, not the pool's spare records.
  if (b->records.size() > 64 && n * 4 < b->records.size()) b->records.resize(n);
  std::size_t i = 0;
  for (const chunk* c = taken.head; c != nullptr; c = c->next) {
    const std::byte* p = c->bytes.get();
    for (std::size_t k = 0; k < c->records; ++k) {
      try {
        p = decode_record(p, b->records[i]);
        ++i;
      } catch (...) {  // out of memory: the rest of this chunk is dropped, counted
        count(counter::dropped, c->records - k);
        batch_pool::trim(b->records[i]);
        break;
      }
    }
  }
  recycle_chunks(taken);
  b->size = i;
  // Reused records have it already: copying it for each span would cost two locked
  // instructions (the count taken here, dropped when the record is emptied).
  for (std::size_t r = 0; r < b->size; ++r) {
    if (b->records[r].resource != resource_) b->records[r].resource = resource_;
  }
  const std::size_t batch_size = std::max<std::size_t>(1, limits_.max_export_batch_size);
  const std::size_t total = b->size;
  std::shared_ptr<const batch> shared;
  try {
    shared.reset(b.release(), [pool = pool_](const batch* done) {
      pool->give_back(const_cast<batch*>(done));  // NOLINT(cppcoreguidelines-pro-type-const-cast): ours
    });
  } catch (...) {  // out of memory: the deleter has given the batch back; dropped, counted
    count(counter::dropped, total);
    return n;
  }
  for (std::size_t first = 0; first < total; first += batch_size) {
    const std::size_t count_in_slice = std::min(total - first, batch_size);
    for (auto& l : lanes_) l->push({shared, first, count_in_slice, 0, false, {}});
  }
  return n;
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
    accepting_ = false;  // before stopping_: the collector's last take is every accepted span
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    ticket = ++flush_requested_;
  }
  wake_.notify_one();
  collector_.join();  // quick: the collector never waits for an exporter
  bool ok = wait_for_lanes(ticket, deadline);
  for (auto& l : lanes_) l->push({nullptr, 0, 0, 0, true, deadline});
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
  chunk_list left;
  {
    std::lock_guard queue_lock(queue_lock_);
    left = std::exchange(idle_, chunk_list{});  // the collector delivered the rest
  }
  free_chunks(left);
  shutdown_result_.store(ok);
  shut_down_ = true;
  return ok;
}

}  // namespace prela::detail

void prela::exporter::report_rejected(std::size_t spans) noexcept { detail::rejected_in_export += spans; }
