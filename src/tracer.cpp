#include "prela/tracer.hpp"

#include <pthread.h>
#include <mutex>
#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <stdexcept>
#include <utility>

#include "detail/attribute_set.hpp"
#include "detail/batch_processor.hpp"
#include "detail/diagnostics.hpp"
#include "detail/exception_info.hpp"
#include "detail/fork.hpp"
#include "detail/inflight.hpp"
#include "detail/printable.hpp"
#include "detail/tracer_impl.hpp"
#include "prela/clock.hpp"
#include "prela/version.hpp"

namespace prela {
namespace detail {

namespace {

std::shared_ptr<const prela::resource> make_resource(const tracer_options& o) {
  auto r = std::make_shared<prela::resource>();
  r->service_name = o.service_name.empty() ? std::string("unknown_service") : o.service_name;
  r->attributes.push_back({"service.name", r->service_name});
  for (const auto& a : o.resource_attributes) {
    if (a.key != "service.name") r->attributes.push_back(a);
  }
  // OpenTelemetry's SDK identification, unless the application set its own.
  const std::pair<const char*, const char*> sdk[] = {{"telemetry.sdk.name", "prela"},
                                                     {"telemetry.sdk.language", "cpp"},
                                                     {"telemetry.sdk.version", prela::version}};
  for (const auto& entry : sdk) {
    if (find_attribute(r->attributes, entry.first) == nullptr)
      r->attributes.push_back({entry.first, entry.second});
  }
  return r;
}

std::unique_ptr<tracer_config> default_config() {
  auto c = std::make_unique<tracer_config>();
  c->sampler = parent_based(always_on());
  c->resource = make_resource({});
  return c;
}

// Spans are recycled: a span start costs no allocation in steady state. Threads that
// start spans keep a cache of their own. Spans released on threads that do not start
// spans (a fork kept its parent span alive there) go to a shared lock-free stack that
// starting threads take whole when their cache runs dry, keeping span memory out of
// the allocator's cross-thread free path.
span_factory::pool span_pool;

// Registered by a thread's first span start (after the thread's context cleanup, so it
// runs before that one): returns the thread's cached spans to the allocator and closes
// the cache, so that spans released later on this thread are not cached.
struct span_cache_cleanup {
  ~span_cache_cleanup() { span_factory::close_thread_cache(); }
};

// What the sampler sees for a span started without attributes. At namespace scope: a
// function-local static would cost a guard check on every span start.
const prela::attributes no_attributes{};

}  // namespace

std::atomic<bool> asymmetric_fences{false};
std::atomic<std::uint32_t> unlisted_pins{0};

namespace {

// Configurations are replaced rarely (init, shutdown) and read on every span start
// and end. Readers pin the configuration (tracer_impl::pin); with Linux's membarrier
// the pin needs only a compiler fence, and the tracer pays for a process-wide barrier
// when it frees a replaced configuration. Without membarrier (old kernels, seccomp
// filters, and under ThreadSanitizer, which does not model it) pins use a full fence.
bool register_membarrier() noexcept {
#if defined(__linux__) && !defined(__SANITIZE_THREAD__)
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
  return false;
#endif
}

// Orders every other thread's earlier pin stores before our reads of the pins; false
// when the barrier failed (then nothing may be freed).
bool heavy_fence() noexcept {
  if (!asymmetric_fences.load(std::memory_order_relaxed)) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return true;
  }
#if defined(__linux__)
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
  return false;
#endif
}

}  // namespace

void tracer_impl::pin::slow_path(const tracer_impl& tracer) noexcept {
  sdk_thread_state& t = sdk_tls;
  if (t.phase == registry_phase::unlisted) register_thread();
  if (t.phase == registry_phase::listed && t.sampling == 0) {
    const tracer_config* c = tracer.config_.load(std::memory_order_acquire);
    for (;;) {
      if (asymmetric_fences.load(std::memory_order_relaxed)) {
        t.pinned_config.store(c, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
      } else {
        t.pinned_config.store(c, std::memory_order_seq_cst);
      }
      const tracer_config* again = tracer.config_.load(std::memory_order_seq_cst);
      if (again == c) break;
      c = again;  // replaced meanwhile: announce the new one
    }
    config_ = c;
    return;
  }
  counted_ = true;
  unlisted_pins.fetch_add(1, std::memory_order_seq_cst);
  config_ = tracer.config_.load(std::memory_order_seq_cst);
}

tracer_impl::tracer_impl() {
  static const bool membarrier = register_membarrier();
  if (membarrier) asymmetric_fences.store(true, std::memory_order_relaxed);
  publish(default_config());
}

tracer_impl::~tracer_impl() {
  std::lock_guard lock(lifecycle_);
  current_->slow_spans.reset();
  if (current_->processor) current_->processor->shutdown(std::chrono::seconds(5));
  for (auto& c : retired_) {
    if (c->processor) c->processor->shutdown(std::chrono::seconds(5));
  }
}

void tracer_impl::publish(std::unique_ptr<tracer_config> next) {
  if (current_) retired_.reserve(retired_.size() + 1);  // the only step that can fail
  next->generation = ++generation_;
  if (current_) retired_.push_back(std::move(current_));
  current_ = std::move(next);
  config_.store(current_.get(), std::memory_order_seq_cst);
  reclaim();
}

void tracer_impl::reclaim() noexcept {
  if (retired_.empty() || !heavy_fence()) return;
  if (unlisted_pins.load(std::memory_order_seq_cst) != 0) return;  // next time
  std::erase_if(retired_, [](const std::unique_ptr<tracer_config>& c) { return !config_pinned(c.get()); });
}

void tracer_impl::init(tracer_options options) {
  if (options.max_queue_size == 0 || options.max_queue_size > limits::max_queue_size) {
    throw std::invalid_argument("prela::init: max_queue_size must be 1 to 2^24");
  }
  if (options.max_export_batch_size == 0 || options.max_export_batch_size > limits::max_queue_size) {
    throw std::invalid_argument("prela::init: max_export_batch_size must be 1 to 2^24");
  }
  const auto in_range = [](std::chrono::milliseconds d) {
    return d.count() >= 0 && d <= limits::max_duration;
  };
  if (!in_range(options.schedule_delay) || !in_range(options.export_timeout)) {
    throw std::invalid_argument(
        "prela::init: schedule_delay and export_timeout must be 0 to 86400000 ms (a day)");
  }
  if (!in_range(options.slow_span_threshold)) {
    throw std::invalid_argument("prela::init: slow_span_threshold must be 0 (off) to 86400000 ms (a day)");
  }
  // Without instrumentation no span ever reaches an exporter: nothing is started, and
  // the exporters are released unused.
  if constexpr (!instrumented) return;
  std::lock_guard lock(lifecycle_);
  if (current_->processor) current_->processor->shutdown(options.export_timeout);
  current_->slow_spans.reset();

  auto c = std::make_unique<tracer_config>();
  c->sampler = options.sampler ? options.sampler : parent_based(always_on());
  c->resource = make_resource(options);
  batch_limits limits;
  limits.max_queue_size = options.max_queue_size;
  // As OpenTelemetry specifies: a batch is never larger than the queue.
  limits.max_export_batch_size = std::min(options.max_export_batch_size, options.max_queue_size);
  limits.schedule_delay = options.schedule_delay;
  limits.export_timeout = options.export_timeout;
  c->processor = std::make_unique<batch_processor>(limits, std::move(options.exporters), c->resource);
  c->slow_spans = start_slow_span_watch(options.slow_span_threshold);
  publish(std::move(c));
}

bool tracer_impl::shutdown(std::chrono::milliseconds timeout) {
  std::lock_guard lock(lifecycle_);
  if (current_->after_shutdown) return true;
  current_->slow_spans.reset();
  bool ok = true;
  if (current_->processor) ok = current_->processor->shutdown(timeout);
  auto c = std::make_unique<tracer_config>();
  c->sampler = current_->sampler;
  c->resource = current_->resource;
  c->after_shutdown = current_->processor != nullptr;
  if (!c->after_shutdown) return ok;  // never initialised: nothing to stop
  publish(std::move(c));
  return ok;
}

bool tracer_impl::force_flush(std::chrono::milliseconds timeout) {
  std::lock_guard lock(lifecycle_);
  return current_->processor ? current_->processor->force_flush(timeout) : true;
}

// --- fork() ---------------------------------------------------------------------------
// The child of a fork() has one thread, the one that called fork(): the processor's and
// the exporters' threads are gone, and a lock another thread held at that moment would
// stay held. prela takes its own locks around fork() (init/shutdown, the thread
// registry, the diagnostic handler), so the child's copies are free; a fork() waits
// for an init() or shutdown() in progress on another thread. The child then lets go of
// the parent's processors for good (never joined, never freed: what they hold is the
// parent's to export) and continues like a process that has not called init(): spans
// are discarded until it calls init(), which then works as anywhere. The parent is not
// affected.

void tracer_impl::before_fork() noexcept {
  lifecycle_.lock();
  lock_threads_for_fork();
  lock_diagnostics_for_fork();
  inflight_lock_for_fork();
}

void tracer_impl::after_fork_in_parent() noexcept {
  inflight_unlock_after_fork_in_parent();
  unlock_diagnostics_after_fork();
  unlock_threads_after_fork();
  lifecycle_.unlock();
}

void tracer_impl::after_fork_in_child() noexcept {
  unlock_diagnostics_after_fork();
  unlock_threads_after_fork();
  forget_other_threads_pins();
  if (asymmetric_fences.load(std::memory_order_relaxed)) (void)register_membarrier();  // for this process
  // The processors' threads are gone: let go of them (NOLINT: the release is the point).
  for (auto& c : retired_) (void)c->processor.release();  // NOLINT(bugprone-unused-return-value)
  (void)current_->processor.release();                    // NOLINT(bugprone-unused-return-value)
  abandon_slow_span_watch(current_->slow_spans);
  inflight_after_fork_in_child();
  try {
    auto fresh = std::make_unique<tracer_config>();
    fresh->sampler = current_->sampler;
    fresh->resource = current_->resource;
    publish(std::move(fresh));
  } catch (...) {  // out of memory: the emptied configuration stays current, its spans dropped
  }
  lifecycle_.unlock();
}

span_factory::lineage span_factory::choose_parent(trace_context& ctx, const remote_context* remote,
                                                  prela::baggage* baggage_to_take,
                                                  sampling_parameters& params) {
  lineage from{.trace_state = &ctx.st_.trace_state};
  const span* parent = nullptr;
  if (baggage_to_take != nullptr) {
    ctx.set_baggage(std::move(*baggage_to_take));
  } else if (remote != nullptr) {
    ctx.set_baggage(remote->baggage);
  } else {
    parent = ctx.current_span();
  }
  if (remote != nullptr && remote->is_valid()) {
    params.trace_id = remote->trace_id;
    params.parent_sampled = remote->sampled;
    params.parent_is_remote = true;
    from.parent_id = remote->span_id;
    from.random_flag = remote->random_trace_id ? trace_flag_random : 0;
    from.trace_state = &remote->trace_state;
  } else if (remote != nullptr && remote->trace_id.is_valid()) {
    // A trace id without a parent span (X-Trace-ID alone): a root in that trace.
    params.trace_id = remote->trace_id;
    from.trace_state = &remote->trace_state;
  } else if (parent != nullptr) {
    params.trace_id = parent->trace_id_;
    params.parent_sampled = parent->is_sampled();
    from.parent_id = parent->span_id_;
    from.random_flag = parent->trace_flags_ & trace_flag_random;
    from.trace_state = &parent->trace_state_;
  } else if (remote == nullptr && ctx.st_.explicit_trace) {
    params.trace_id = ctx.st_.trace_id;
    from.random_flag = ctx.st_.random_trace_id ? trace_flag_random : 0;
    from.forced_off = !ctx.st_.sampled;
  } else {
    params.trace_id = prela::trace_id::generate();
    from.random_flag = trace_flag_random;
    if (remote != nullptr) from.trace_state = &empty_trace_state();
  }
  return from;
}

span_factory::started span_factory::start(const tracer_impl& tracer, std::string_view name, span_type type,
                                          const remote_context* remote, prela::attributes* attrs,
                                          prela::baggage* baggage_to_take) {
  if constexpr (!instrumented) return {};  // scopes and handles then show inert_span()
  trace_context& ctx = get_trace_context();
  const tracer_impl::pin cfg(tracer);

  sampling_parameters params;
  params.name = name;
  params.type = type;
  params.attributes = attrs != nullptr ? attrs : &no_attributes;
  const lineage from = choose_parent(ctx, remote, baggage_to_take, params);

  bool sampled = false;
  if (!from.forced_off) {
    const tracer_impl::sampling_scope sampling;
    sampled = cfg->sampler->should_sample(params);
  }

  span* s = allocate();
  s->refs_.store(1, std::memory_order_relaxed);  // the caller's (the stack does not own)
  s->ended_.store(false, std::memory_order_relaxed);
  s->type_ = type;
  s->trace_flags_ = static_cast<std::uint8_t>((sampled ? trace_flag_sampled : 0) | from.random_flag);
  s->parent_is_remote_ = params.parent_is_remote;
  s->tracer_ = &tracer;
  s->config_generation_ = cfg->generation;
  s->trace_id_ = params.trace_id;
  s->span_id_ = prela::span_id::generate();
  s->parent_span_id_ = from.parent_id;
  s->name_.assign(name);
  s->trace_state_ = *from.trace_state;
  s->recording_ = sampled && cfg->processor != nullptr;
  if (s->recording_) {
    s->start_time_ = now_since_epoch();
    s->end_time_ = s->start_time_;
    if (attrs != nullptr) {
      for (auto& a : *attrs) upsert(s->attributes_, std::move(a), s->dropped_attributes_);
    }
  } else if (sampled && cfg->after_shutdown) {
    count(counter::dropped);
  }
  // Spans that do not record read no clock: the live view dates them when it first sees
  // them (start time 0 here).
  const inflight_ticket ticket = inflight_open(*s, s->name_, ctx, generation_of(&ctx), ctx.thread_own_,
                                               s->recording_ ? s->start_time_ : std::chrono::nanoseconds(0));
  s->inflight_slot_ = ticket.slot;
  s->inflight_state_ = ticket.state;
  count(counter::started);
  ctx.push(s);
  return {span_ref::adopt(s), context_pin(ctx)};
}

void span_factory::open_thread_cache() noexcept {
  sdk_thread_state& t = sdk_tls;
  if (t.phase == registry_phase::unlisted)
    register_thread();  // first: its cleanup must run after the cache's
  if (t.spans != cache_state::unopened || t.phase == registry_phase::exited) return;
  static thread_local span_cache_cleanup cleanup;
  (void)cleanup;  // odr-use: constructs it, so its destructor runs at thread exit
  t.spans = cache_state::open;
}

void span_factory::close_thread_cache() noexcept {
  sdk_thread_state& t = sdk_tls;
  t.spans = cache_state::closed;
  span_pool.drain(t.free_spans, [](span* s) { delete s; });
}

span* span_factory::allocate() {
  sdk_thread_state& t = sdk_tls;
  if (t.spans == cache_state::unopened) [[unlikely]]
    open_thread_cache();
  if (span* s = span_pool.take(t.free_spans, t.spans == cache_state::open)) return s;
  return new span();
}

const std::string& span_factory::empty_trace_state() {
  static const std::string empty;
  return empty;
}

void span_factory::on_end(const span& s) noexcept {
  (void)s;
  count(counter::ended);
}

void span_factory::on_end_recording(span& s) noexcept {
  count(counter::ended);
  const tracer_impl::pin cfg(*s.tracer_);
  if (cfg->generation == s.config_generation_ && cfg->processor) {
    // The span is ended: nothing changes what the view refers to while it is read.
    cfg->processor->enqueue({.name = s.name_,
                             .trace_state = s.trace_state_,
                             .status_message = s.status_message_,
                             .attributes = &s.attributes_,
                             .events = &s.events_,
                             .trace_id = s.trace_id_,
                             .span_id = s.span_id_,
                             .parent_span_id = s.parent_span_id_,
                             .start_time = s.start_time_,
                             .end_time = s.end_time_,
                             .dropped_attributes = s.dropped_attributes_,
                             .dropped_events = s.dropped_events_,
                             .type = s.type_,
                             .status = s.status_,
                             .trace_flags = s.trace_flags_,
                             .parent_is_remote = s.parent_is_remote_});  // counts its own drops
  } else {
    count(counter::dropped);  // its configuration was shut down or replaced, or in a fork() child
  }
}

void span_factory::count_mutation_after_end(const span& s) noexcept {
  (void)s;
  count(counter::mutations_after_end);
}

void span_factory::recycle(span* s) noexcept {
  sdk_thread_state& t = sdk_tls;
  // Reset what a new span does not overwrite; strings and vectors keep their capacity.
  // A span that did not record never had any of it set (every mutator checks first).
  // Unusually large buffers are not kept around: such a span is freed.
  if (s->recording_) {
    if (s->status_message_.capacity() > 256 || s->attributes_.capacity() > 16 || s->events_.capacity() > 4) {
      delete s;
      return;
    }
    s->status_ = span_status::unset;
    s->status_message_.clear();
    s->attributes_.clear();
    s->events_.clear();
    s->dropped_attributes_ = 0;
    s->dropped_events_ = 0;
  }
  if (s->name_.capacity() > 256 || s->trace_state_.capacity() > 512) {
    delete s;
    return;
  }
  if (t.spans == cache_state::open && span_pool.keep(t.free_spans, s)) return;
  if (!span_pool.share(s)) delete s;
}

// --- activation --------------------------------------------------------------------

activation::activation(span_ref s, context_pin ctx, bool is_scope) noexcept
    : span_(std::move(s)), ctx_(std::move(ctx)), uncaught_(uncaught_exceptions()), is_scope_(is_scope) {
  if constexpr (instrumented) span_->handle_ = !is_scope;  // else there is no span
}

activation::activation(activation&& other) noexcept
    : span_(std::move(other.span_)),
      ctx_(std::move(other.ctx_)),
      uncaught_(other.uncaught_),
      is_scope_(other.is_scope_) {}

activation& activation::operator=(activation&& other) noexcept {
  if (this != &other) {
    finish();
    span_ = std::move(other.span_);
    ctx_ = std::move(other.ctx_);
    uncaught_ = other.uncaught_;
    is_scope_ = other.is_scope_;
  }
  return *this;
}

namespace {
// One flag per kind of report: each is printed once per process.
enum class report : std::uint8_t {
  installed_elsewhere,
  trace_scope_in_other_flow,
  scope_in_other_flow,
  scope_below_open_scope,
  count_
};
std::atomic<bool> reported[static_cast<std::size_t>(report::count_)] = {};

bool first_report(report r) noexcept {
  return !reported[static_cast<std::size_t>(r)].exchange(true, std::memory_order_relaxed);
}

void report_scope(report r, const span& s) noexcept {
  if (!first_report(r)) return;
  try {
    // Span names come from users and from remote input: escaped in the warning.
    const std::string name = printable(s.name(), 200);
    if (r == report::scope_in_other_flow) {
      diagnose("prela: span scope '" + name +
               "' ended while another flow's context was current; it was ended in its own context, but "
               "spans opened meanwhile may have the wrong parent. The coroutine or callback holding it ran "
               "without its own context: usual causes are a coroutine started with boost::asio::co_spawn "
               "(use prela::asio::co_spawn), boost::asio::bind_executor(X, use_awaitable) with an X that is "
               "not a prela executor (wrap it in prela::asio::bind_context), or a scope moved to another "
               "task. Counted in tracer_stats::context_mismatches; reported once. See "
               "docs/troubleshooting.md.");
    } else {
      diagnose("prela: span scope '" + name +
               "' ended while a scope opened after it in the same flow was still open; it was removed "
               "from its flow exactly, but spans opened meanwhile may have the wrong parent. Usual cause: "
               "two coroutines or callbacks sharing one flow (one context_executor for concurrent work: "
               "take one prela::asio::fork per task). Counted in tracer_stats::context_mismatches; "
               "reported once. See docs/troubleshooting.md.");
    }
  } catch (...) {  // out of memory while describing: the count stands
  }
}
}  // namespace

void report_misuse(misuse kind) noexcept {
  count(counter::context_mismatches);
  if (kind == misuse::trace_scope_in_other_flow) {
    if (!first_report(report::trace_scope_in_other_flow)) return;
    diagnose(
        "prela: a new_trace_context() scope ended in another flow than the one it was opened in "
        "(it was moved to another thread or task); the trace it replaced was not restored, so that "
        "flow goes on in the new trace. Keep such a scope local to the code it isolates. Counted in "
        "tracer_stats::context_mismatches; reported once. See docs/troubleshooting.md.");
    return;
  }
  if (!first_report(report::installed_elsewhere)) return;
  diagnose(
      "prela: a flow's context was wanted on two threads at once, and the second ran under its thread's own "
      "context (its spans may have the wrong parent). Usual causes: callbacks on sockets or timers built "
      "from "
      "a task's executor (co_await this_coro::executor) running while the task runs (give each "
      "callback-style session its own flow with prela::asio::new_flow), a coroutine started with "
      "boost::asio::co_spawn on a task's executor (use prela::asio::co_spawn), or one prela::asio::fork() "
      "used for concurrent work (take one per task). Counted in tracer_stats::context_mismatches; reported "
      "once. See docs/coroutines.md.");
}

void activation::finish() noexcept {
  // Ended (ctx_ released) or moved from (both empty). A handle keeps its ended span:
  // readable, its mutations counted no-ops, until the handle goes away.
  if (!ctx_) return;
  span* const s = span_.get();
  context_pin ctx = std::move(ctx_);
  const bool foreign = ctx.get() != peek_context();
  // A task's scope ending while the task's non-resumption work runs or is destroyed on
  // this thread (unwinding_mark): its coroutine frame is being destroyed while suspended
  // (cancellation, io_context destroyed). Any other scope ending outside its flow is a
  // mismatch, not a cancellation. Handles may end anywhere.
  const bool suspended_frame = is_scope_ && foreign && ctx->frame_unwinding_here();
  if (uncaught_exceptions() > uncaught_) {
    try {
      if (ctx->cancelled_.load(std::memory_order_relaxed)) {
        s->record_error("cancelled", "cancelled");
      } else {
        const exception_info info = in_flight_exception();
        // An exception recorded already on its way out (traced(), record_exception in
        // a catch block that rethrows) is kept: without prela::throw_hook this one
        // would be "unknown", with it the same exception twice.
        bool described = false;
        if (s->recording_) {
          const std::lock_guard lock(s->mu_);
          described =
              s->status_ == span_status::error && find_attribute(s->attributes_, "error.type") != nullptr;
        }
        if (!described) s->record_error(info.type, info.message);
      }
    } catch (...) {  // out of memory while describing: the span still ends
    }
  } else if (suspended_frame) {
    try {
      s->record_error("cancelled", "cancelled");
    } catch (...) {
    }
  }
  // The stack belongs to the thread running the flow: from any other thread, leave the
  // removal to the flow (its own thread may be pushing and popping right now).
  const auto where = foreign ? (ctx->remove_foreign(s), trace_context::removed::absent) : ctx->remove(s);
  // A lexical scope that ends in another flow, or below another open scope of its own,
  // means two flows shared a context (e.g. coroutines started with plain
  // boost::asio::co_spawn): nesting was corrupted. Say so.
  if (is_scope_ && !suspended_frame && (foreign || where != trace_context::removed::innermost)) {
    count(counter::context_mismatches);
    report_scope(foreign ? report::scope_in_other_flow : report::scope_below_open_scope, *s);
  }
  s->end();
}

}  // namespace detail

// --- tracer ------------------------------------------------------------------------

tracer::tracer() : impl_(std::make_unique<detail::tracer_impl>()) {}
tracer::~tracer() = default;

span_scope tracer::span(std::string_view name, span_type type) {
  auto st = detail::span_factory::start(*impl_, name, type, nullptr, nullptr);
  return span_scope(std::move(st.span), std::move(st.context));
}

span_scope tracer::span(std::string_view name, span_type type, prela::attributes attrs) {
  auto st = detail::span_factory::start(*impl_, name, type, nullptr, &attrs);
  return span_scope(std::move(st.span), std::move(st.context));
}

span_scope tracer::span(std::string_view name, span_type type, const remote_context& parent,
                        prela::attributes attrs) {
  auto st = detail::span_factory::start(*impl_, name, type, &parent, &attrs);
  return span_scope(std::move(st.span), std::move(st.context));
}

span_scope tracer::span(std::string_view name, span_type type, remote_context&& parent,
                        prela::attributes attrs) {
  auto st = detail::span_factory::start(*impl_, name, type, &parent, &attrs, &parent.baggage);
  return span_scope(std::move(st.span), std::move(st.context));
}

span_handle tracer::start_span(std::string_view name, span_type type) {
  auto st = detail::span_factory::start(*impl_, name, type, nullptr, nullptr);
  return span_handle(std::move(st.span), std::move(st.context));
}

span_handle tracer::start_span(std::string_view name, span_type type, prela::attributes attrs) {
  auto st = detail::span_factory::start(*impl_, name, type, nullptr, &attrs);
  return span_handle(std::move(st.span), std::move(st.context));
}

span_handle tracer::start_span(std::string_view name, span_type type, const remote_context& parent,
                               prela::attributes attrs) {
  auto st = detail::span_factory::start(*impl_, name, type, &parent, &attrs);
  return span_handle(std::move(st.span), std::move(st.context));
}

span_handle tracer::start_span(std::string_view name, span_type type, remote_context&& parent,
                               prela::attributes attrs) {
  auto st = detail::span_factory::start(*impl_, name, type, &parent, &attrs, &parent.baggage);
  return span_handle(std::move(st.span), std::move(st.context));
}

tracer_stats tracer::stats() const {
  using detail::counter;
  using detail::total;
  tracer_stats s;
  s.started = total(counter::started);
  s.ended = total(counter::ended);
  s.exported = total(counter::exported);
  s.dropped = total(counter::dropped);
  s.export_failures = total(counter::export_failures);
  s.mutations_after_end = total(counter::mutations_after_end);
  s.context_mismatches = total(counter::context_mismatches);
  s.slow_spans = total(counter::slow_spans);
  return s;
}

void tracer::init(tracer_options options) { impl_->init(std::move(options)); }
bool tracer::shutdown(std::chrono::milliseconds timeout) { return impl_->shutdown(timeout); }
bool tracer::force_flush(std::chrono::milliseconds timeout) { return impl_->force_flush(timeout); }

tracer& get_tracer() {
  // Never destroyed: threads may end spans during static destruction. Spans still
  // queued at exit are flushed by the atexit handler registered by init().
  static tracer* const global = [] {
    auto* t = new tracer();
    pthread_atfork([] { get_tracer().impl_->before_fork(); },
                   [] { get_tracer().impl_->after_fork_in_parent(); },
                   [] { get_tracer().impl_->after_fork_in_child(); });
    return t;
  }();
  return *global;
}

void init(tracer_options options) {
  static const bool flush_at_exit = [] {
    std::atexit([] { get_tracer().shutdown(std::chrono::seconds(5)); });
    return true;
  }();
  (void)flush_at_exit;
  get_tracer().init(std::move(options));
}

bool shutdown(std::chrono::milliseconds timeout) { return get_tracer().shutdown(timeout); }
bool force_flush(std::chrono::milliseconds timeout) { return get_tracer().force_flush(timeout); }

}  // namespace prela
