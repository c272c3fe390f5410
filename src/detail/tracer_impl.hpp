// Tracer internals shared by span.cpp, context.cpp and tracer.cpp.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "detail/counters.hpp"
#include "prela/tracer.hpp"

namespace prela::detail {

class batch_processor;

/// One configuration of the tracer, immutable once published. A span keeps a raw
/// pointer to the configuration it started under; configurations are therefore kept
/// (a few hundred bytes each, their processor stopped) until the tracer is destroyed.
struct tracer_config {
  std::shared_ptr<prela::sampler> sampler;
  std::shared_ptr<const prela::resource> resource;
  std::unique_ptr<batch_processor> processor;  // null before init
  bool after_shutdown = false;                  // spans started now are dropped and counted
  // In a child of fork(): the processor belongs to the parent (its threads do not exist
  // here) and was let go of; spans that end here under this configuration are dropped
  // and counted. Set only by the child's fork handler, while it is the only thread.
  bool orphaned = false;
};

class tracer_impl {
 public:
  tracer_impl();
  ~tracer_impl();

  [[nodiscard]] const tracer_config* config() const noexcept {
    return config_.load(std::memory_order_acquire);
  }

  void init(tracer_options options);
  bool shutdown(std::chrono::milliseconds timeout);
  bool force_flush(std::chrono::milliseconds timeout);

  /// fork() handlers (pthread_atfork, registered for the global tracer).
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

 private:
  void publish(std::unique_ptr<tracer_config> next);  // caller holds lifecycle_

  std::atomic<const tracer_config*> config_{nullptr};
  std::mutex lifecycle_;                                // serialises init/shutdown/flush
  std::vector<std::unique_ptr<tracer_config>> configs_;  // current one last
};

/// Creates, ends and recycles spans; the only code touching span internals.
class span_factory {
 public:
  struct started {
    span_ref span;
    context_ref context;
  };
  /// `attrs` may be null (no attributes); its elements are moved from.
  static started start(const tracer_impl& tracer, std::string_view name, span_type type,
                       const remote_context* remote, prela::attributes* attrs);
  /// Counts the end of a span that does not record.
  static void on_end(const span& s) noexcept;
  /// Counts the end of a recording span and queues its record, built in place. The
  /// span is ended (no mutation can reach it any more) and still referenced.
  static void on_end_recording(span& s) noexcept;
  static void count_mutation_after_end(const span& s) noexcept;
  static void recycle(span* s) noexcept;
  /// Frees this thread's cache of span objects (thread exit).
  static void drain_thread_cache() noexcept;
  /// Moves an ended span's record into d. The resource is left for the processor.
  static void take_data(span& s, span_data& d) noexcept;

 private:
  static span* allocate();
  static const std::string& empty_trace_state();
};

}  // namespace prela::detail
