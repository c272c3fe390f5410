// Tracer internals shared by span.cpp, context.cpp and tracer.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "detail/counters.hpp"
#include "detail/inflight.hpp"
#include "detail/recycling_pool.hpp"
#include "detail/sdk_thread_state.hpp"
#include "prela/tracer.hpp"

namespace prela::detail {

class batch_processor;

/// One configuration of the tracer, immutable once published. init(), shutdown() and a
/// fork() child replace the current configuration; a replaced one is freed as soon as
/// no thread is reading it (tracer_impl::pin), so init/shutdown cycles do not add up.
struct tracer_config {
  std::uint32_t generation = 0;  // numbers the tracer's configurations; spans keep it
  std::shared_ptr<prela::sampler> sampler;
  std::shared_ptr<const prela::resource> resource;
  std::unique_ptr<batch_processor> processor;  // null before init and after shutdown
  slow_span_watch_ptr slow_spans;              // null unless slow_span_threshold is set
  bool after_shutdown = false;                 // spans started now are dropped and counted
};

/// Whether pins may use a compiler-only fence because the reclaimer issues a
/// process-wide memory barrier (Linux membarrier), set once by the first tracer.
extern std::atomic<bool> asymmetric_fences;
/// Pins held by threads that are not in the thread registry (exiting, or pinning twice).
extern std::atomic<std::uint32_t> unlisted_pins;

class tracer_impl {
 public:
  tracer_impl();
  ~tracer_impl();
  tracer_impl(const tracer_impl&) = delete;
  tracer_impl& operator=(const tracer_impl&) = delete;

  /// The current configuration, kept alive for the pin's scope. Each thread announces
  /// in its sdk_thread_state the configuration it last read (a hazard pointer that stays
  /// set between uses), and the tracer frees a replaced configuration only when no
  /// thread announces it. While the configuration is unchanged, pinning is two loads and
  /// a compare; after a change, the thread's next pin announces the new one (a store and
  /// a compiler fence: the reclaimer pays for the process-wide barrier). A thread that
  /// stays idle keeps at most one replaced configuration alive until it next traces or
  /// exits, so memory is bounded by the number of threads, not by init/shutdown cycles.
  class pin {
   public:
    explicit pin(const tracer_impl& tracer) noexcept {
      const sdk_thread_state& t = sdk_tls;
      const tracer_config* c = tracer.config_.load(std::memory_order_acquire);
      if (t.pinned_config.load(std::memory_order_relaxed) == c) [[likely]] {
        config_ = c;
      } else {
        slow_path(tracer);
      }
    }
    ~pin() {
      if (counted_) [[unlikely]]
        unlisted_pins.fetch_sub(1, std::memory_order_release);
    }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    const tracer_config* operator->() const noexcept { return config_; }

   private:
    // Announces the current configuration. A thread leaving the registry (exiting), or
    // inside a sampler (whose caller relies on the configuration it announced), counts
    // itself in unlisted_pins for the pin's scope instead.
    void slow_path(const tracer_impl& tracer) noexcept;

    const tracer_config* config_ = nullptr;
    bool counted_ = false;
  };

  /// Marks the thread as inside a sampler: pins taken meanwhile leave the announced
  /// configuration alone (a sampler may start spans).
  class sampling_scope {
   public:
    sampling_scope() noexcept { ++sdk_tls.sampling; }
    ~sampling_scope() { --sdk_tls.sampling; }
    sampling_scope(const sampling_scope&) = delete;
    sampling_scope& operator=(const sampling_scope&) = delete;
  };

  void init(tracer_options options);
  bool shutdown(std::chrono::milliseconds timeout);
  bool force_flush(std::chrono::milliseconds timeout);

  /// fork() handlers (pthread_atfork, registered for the global tracer).
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

 private:
  void publish(std::unique_ptr<tracer_config> next);  // caller holds lifecycle_
  void reclaim() noexcept;                            // caller holds lifecycle_

  std::atomic<const tracer_config*> config_{nullptr};
  std::mutex lifecycle_;                                 // serialises init/shutdown/flush
  std::unique_ptr<tracer_config> current_;               // what config_ points to
  std::vector<std::unique_ptr<tracer_config>> retired_;  // replaced, maybe still pinned
  std::uint32_t generation_ = 0;
};

/// Whether a thread in the registry has `config` pinned now (thread_registry.cpp).
bool config_pinned(const void* config) noexcept;
/// In a fork() child: forgets the pins of the threads that did not survive the fork.
void forget_other_threads_pins() noexcept;

/// Creates, ends and recycles spans; the only code touching span internals.
class span_factory {
 public:
  struct started {
    span_ref span;
    context_pin context;
  };
  /// `attrs` may be null (no attributes); its elements are moved from.
  /// `baggage_to_take`: the remote context's baggage, when the caller gives it up (it
  /// is then moved into the context rather than shared).
  static started start(const tracer_impl& tracer, std::string_view name, span_type type,
                       const remote_context* remote, prela::attributes* attrs,
                       prela::baggage* baggage_to_take = nullptr);
  /// Counts the end of a span that does not record.
  static void on_end(const span& s) noexcept;
  /// Counts the end of a recording span and queues its record, built in place. The
  /// span is ended (no mutation can reach it any more) and still referenced.
  static void on_end_recording(span& s) noexcept;
  static void count_mutation_after_end(const span& s) noexcept;
  /// Takes an ended span out of prela::inflight()'s record.
  static void close_inflight(span& s) noexcept {
    inflight_close({static_cast<inflight_slot*>(s.inflight_slot_), s.inflight_state_});
  }
  static void recycle(span* s) noexcept;
  /// Recycled spans: up to 256 per thread that starts spans, up to 8192 shared (spans
  /// released on threads that start none: a fork kept its parent span alive there).
  using pool = recycling_pool<span, &span::next_free_, 256, 8192>;

 private:
  /// Where a new span's trace comes from (chosen by choose_parent).
  struct lineage {
    prela::span_id parent_id;  // invalid for a root
    std::uint8_t random_flag = 0;
    const std::string* trace_state = nullptr;
    bool forced_off = false;  // new_trace_context({.sampled = false}): not sampled
  };
  /// The parent of a span started in `ctx`: the remote context if given (its baggage is
  /// set in `ctx`), else the current span, else the context's own trace
  /// (new_trace_context), else a new trace. Fills params' trace id and parent fields.
  /// Part of start() (defined beside it, inlined into it: the span start's hot path).
  [[gnu::always_inline]] static inline lineage choose_parent(trace_context& ctx, const remote_context* remote,
                                                             prela::baggage* baggage_to_take,
                                                             sampling_parameters& params);
  static span* allocate();
  /// Opens this thread's span cache and registers its exit cleanup (first span start).
  static void open_thread_cache() noexcept;

 public:
  /// Thread exit: frees the thread's cached spans; spans released later on this thread
  /// are not cached.
  static void close_thread_cache() noexcept;
  static const std::string& empty_trace_state();
};

}  // namespace prela::detail
