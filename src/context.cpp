#include "prela/context.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/baggage_build.hpp"
#include "detail/recycling_pool.hpp"
#include "prela/detail/flow.hpp"

namespace prela {
namespace detail {

constinit thread_local thread_state tls{};

namespace {
// Context memory. Blocks are recycled through a per-thread cache and a shared lock-free
// stack and never freed, so a weak_context may read a block's generation at any time.
struct context_block {
  std::atomic<std::uint32_t> generation{0};
  std::atomic<const thread_state*> owner{nullptr};  // see owner_of()
  context_block* next_free = nullptr;
  alignas(trace_context) unsigned char storage[sizeof(trace_context)];
};
static_assert(std::is_standard_layout_v<context_block>);
static_assert(offsetof(context_block, owner) == context_block_owner, "see owner_of()");
static_assert(offsetof(context_block, storage) == context_block_header, "see generation_of()");

// Blocks are never freed (type-stable memory), so the shared stack is unbounded.
recycling_pool<context_block, &context_block::next_free, 64> context_pool;

context_block* block_of(const void* p) noexcept {
  return reinterpret_cast<context_block*>(const_cast<unsigned char*>(static_cast<const unsigned char*>(p)) -
                                          offsetof(context_block, storage));
}

// Registered by the thread's first context allocation; runs at thread exit: the cached
// blocks go back to the shared stack, and the thread's own context is released.
struct context_cache_cleanup {
  ~context_cache_cleanup() {
    tls.contexts = cache_state::closed;
    context_pool.release(tls.free_contexts);
    if (peek_context() == tls.own) set_current(nullptr);
    release_own_context();
  }
};

[[gnu::noinline]] void open_context_cache() noexcept {
  static thread_local context_cache_cleanup cleanup;
  (void)cleanup;  // odr-use: constructs it, so its destructor runs at thread exit
  tls.contexts = cache_state::open;
}
}  // namespace

trace_context& create_own_context() {
  if (!tls.listed) register_thread();
  if (tls.own == nullptr) {
    tls.own = trace_context::create().detach();
    tls.own->thread_own_ = true;
    tls.own->refs_.store(trace_context::thread_share, std::memory_order_relaxed);  // not yet shared
  }
  set_current(tls.own);
  return *tls.own;
}

void release_own_context() noexcept {
  trace_context* const own = std::exchange(tls.own, nullptr);
  if (own == nullptr) return;
  // The thread's share goes, and the pins its scopes still hold become references:
  // released from now on (here or on other threads) through refs_.
  const std::uint64_t drop = trace_context::thread_share - own->owner_pins_;
  own->owner_pins_ = 0;
  if (own->refs_.fetch_sub(drop, std::memory_order_acq_rel) == drop) delete own;
}

void mark_cancelled(trace_context& ctx) noexcept { ctx.cancelled_.store(true, std::memory_order_relaxed); }

context_ref fork_current() {
  trace_context* c = peek_context();
  return c != nullptr ? c->fork() : trace_context::create();
}

namespace {
/// Where `key` is or would go in sorted entries.
std::size_t position_of(const baggage_entries* e, std::string_view key) noexcept {
  if (e == nullptr) return 0;
  const auto* it = std::lower_bound(e->begin(), e->end(), key,
                                    [](const auto& entry, std::string_view k) { return entry.first < k; });
  return static_cast<std::size_t>(it - e->begin());
}
}  // namespace

}  // namespace detail

void* trace_context::operator new(std::size_t size) {
  using detail::context_block;
  (void)size;  // sizeof(trace_context): nothing derives from it (private constructor)
  detail::thread_state& t = detail::tls;
  // Blocks cached by this thread go back to the shared stack at its exit: opening the
  // cache registers the cleanup that does it.
  if (t.contexts == detail::cache_state::unopened) [[unlikely]]
    detail::open_context_cache();
  if (context_block* block =
          detail::context_pool.take(t.free_contexts, t.contexts == detail::cache_state::open))
    return block->storage;
  return (new context_block())->storage;  // never deleted: type-stable memory
}

void trace_context::operator delete(void* p) noexcept {
  using detail::context_block;
  context_block* block = detail::block_of(p);
  // A thread may still hold the dead context's claim (another thread destroyed the
  // coroutine frame that owned it while that thread unwound its last resumption). The
  // next context placed here starts unclaimed; that thread's release, a compare-and-
  // swap of its own claim, then finds nothing to release (owner_of()).
  block->owner.store(nullptr, std::memory_order_relaxed);
  // Written here only, once per life of the block (the pool hands blocks from thread to
  // thread with acquire/release): a plain increment, no locked instruction. Readers
  // (weak_context) load it.
  block->generation.store(block->generation.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  detail::thread_state& t = detail::tls;
  if (t.contexts == detail::cache_state::open && detail::context_pool.keep(t.free_contexts, block)) return;
  detail::context_pool.share(block);
}

context_ref trace_context::create() { return context_ref::adopt(new trace_context()); }

prela::trace_id trace_context::trace_id() const noexcept {
  const span* s = current_span();
  return s != nullptr ? s->trace_id() : st_.trace_id;
}

bool trace_context::is_sampled() const noexcept {
  const span* s = current_span();
  return s != nullptr ? s->is_sampled() : st_.sampled;
}

const std::string& trace_context::trace_state() const noexcept {
  const span* s = current_span();
  return s != nullptr ? s->trace_state() : st_.trace_state;
}

void trace_context::set_baggage(std::string_view key, std::string_view value) {
  if constexpr (!instrumented) return;  // nothing would carry it
  // Copy on write: forks share the entries until one of them changes them.
  const detail::baggage_entries* current = st_.baggage.get();
  const std::size_t n = current != nullptr ? current->size() : 0;
  const std::size_t at = detail::position_of(current, key);
  const bool replaces = at < n && current->begin()[at].first == key;
  std::vector<detail::baggage_source> next;
  next.reserve(n + 1);
  for (std::size_t i = 0; i < at; ++i) next.push_back(detail::source_of(*current, i));
  next.push_back({key, value});
  for (std::size_t i = replaces ? at + 1 : at; i < n; ++i) next.push_back(detail::source_of(*current, i));
  st_.baggage = detail::baggage_builder::build(next.data(), next.size());
}

void trace_context::set_baggage(const prela::baggage& entries) {
  if (!instrumented || entries.empty()) return;
  const detail::baggage_ref& added = detail::baggage_access::entries(entries);
  const detail::baggage_entries* current = st_.baggage.get();
  if (current == nullptr) {
    st_.baggage = added;
    return;
  }
  // Both sides are sorted by key: one merge, the new value winning on equal keys.
  std::vector<detail::baggage_source> next;
  next.reserve(current->size() + added->size());
  std::size_t a = 0;
  std::size_t b = 0;
  while (a < current->size() || b < added->size()) {
    if (b == added->size() || (a < current->size() && current->begin()[a].first < added->begin()[b].first)) {
      next.push_back(detail::source_of(*current, a++));
    } else {
      if (a < current->size() && current->begin()[a].first == added->begin()[b].first) ++a;
      next.push_back(detail::source_of(*added, b++));
    }
  }
  st_.baggage = detail::baggage_builder::build(next.data(), next.size());
}

void trace_context::set_baggage(prela::baggage&& entries) {
  if (instrumented && st_.baggage == nullptr) {
    if (!entries.empty()) st_.baggage = detail::baggage_access::take(std::move(entries));
    return;
  }
  set_baggage(static_cast<const prela::baggage&>(entries));
}

bool trace_context::remove_baggage(std::string_view key) {
  const detail::baggage_entries* current = st_.baggage.get();
  const std::size_t at = detail::position_of(current, key);
  if (current == nullptr || at == current->size() || current->begin()[at].first != key) return false;
  std::vector<detail::baggage_source> next;
  next.reserve(current->size() - 1);
  for (std::size_t i = 0; i < current->size(); ++i) {
    if (i != at) next.push_back(detail::source_of(*current, i));
  }
  st_.baggage = detail::baggage_builder::build(next.data(), next.size());
  return true;
}

void trace_context::clear_baggage() { st_.baggage.reset(); }

context_ref trace_context::fork() const {
  context_ref f = create();
  const span* s = current_span();
  state& st = f->st_;
  st.trace_id = trace_id();
  st.explicit_trace = st.trace_id.is_valid();
  st.sampled = is_sampled();
  st.random_trace_id = s != nullptr ? (s->trace_flags() & trace_flag_random) != 0 : st_.random_trace_id;
  st.trace_state = trace_state();
  st.baggage = st_.baggage;
  st.fork_parent = detail::span_ref(const_cast<span*>(s));  // NOLINT: refcount only
  return f;
}

trace_context::~trace_context() { discard_stack(st_.stack); }

std::size_t trace_context::depth() const noexcept {
  if (foreign_ends_.load(std::memory_order_acquire) == 0) return st_.stack.size();
  return static_cast<std::size_t>(std::count_if(st_.stack.begin(), st_.stack.end(), [](const span* s) {
    return s->link_.load(std::memory_order_acquire) != span::removal_pending;
  }));
}

span* trace_context::current_span_slow() const noexcept {
  for (auto it = st_.stack.rbegin(); it != st_.stack.rend(); ++it) {
    if ((*it)->link_.load(std::memory_order_acquire) != span::removal_pending) return *it;
  }
  return st_.fork_parent.get();
}

void trace_context::exchange_state(state& other) noexcept {
  // Member by member: cheaper than moving whole states in and out.
  std::swap(st_.trace_id, other.trace_id);
  std::swap(st_.sampled, other.sampled);
  std::swap(st_.explicit_trace, other.explicit_trace);
  std::swap(st_.random_trace_id, other.random_trace_id);
  st_.trace_state.swap(other.trace_state);
  st_.baggage.swap(other.baggage);
  st_.fork_parent.swap(other.fork_parent);
  st_.stack.swap(other.stack);
  // An empty stack's storage stays with the context: a fresh trace state (which has
  // none) takes it over, and gives it back when its scope restores the state it set
  // aside, so a request scope per request costs no allocation for its stack.
  if (st_.stack.capacity() == 0 && other.stack.empty()) st_.stack.swap(other.stack);
  // The incoming stack was set aside: spans of it ended elsewhere meanwhile go now. Their
  // count may have been taken while another state was installed (by a push() that then
  // scanned only that state's stack), so this stack is always scanned. The count is
  // taken only when there is one: a removal whose count is not visible yet is found by
  // the next push() or current_span(), as there.
  if (foreign_ends_.load(std::memory_order_relaxed) != 0) {
    drop_foreign_ends();
  } else {
    drop_pending_entries();
  }
}

void trace_context::push(span* s) {
  if (foreign_ends_.load(std::memory_order_relaxed) != 0) [[unlikely]]
    drop_foreign_ends();
  s->link_.store(span::linked, std::memory_order_relaxed);  // not yet visible elsewhere
  st_.stack.push_back(s);
}

void trace_context::remove_foreign(span* s) noexcept {
  s->add_ref();  // the stack's, until the flow drops the entry
  std::uint8_t expected = span::linked;
  if (!s->link_.compare_exchange_strong(expected, span::removal_pending, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
    s->release();  // no longer on any stack (its trace scope ended): nothing to remove
    return;
  }
  foreign_ends_.fetch_add(1, std::memory_order_release);
}

void trace_context::drop_foreign_ends() noexcept {
  foreign_ends_.exchange(0, std::memory_order_acquire);
  drop_pending_entries();
}

void trace_context::drop_pending_entries() noexcept {
  auto& stack = st_.stack;
  auto kept = stack.begin();
  for (span* s : stack) {
    if (s->link_.load(std::memory_order_acquire) == span::removal_pending) {
      // Only this flow changes a pending link; the other thread's part is done. The
      // reference goes back to the span (recycling never touches this stack).
      s->link_.store(span::unlinked, std::memory_order_relaxed);
      s->release();
    } else {
      *kept++ = s;
    }
  }
  stack.erase(kept, stack.end());
}

void trace_context::take_off_stack(span* s) noexcept {
  // Races with remove_foreign()'s CAS: whichever comes second sees the other's state.
  if (s->link_.exchange(span::unlinked, std::memory_order_acq_rel) == span::removal_pending) {
    s->release();  // ended meanwhile by another thread: the stack's reference
  }
}

void trace_context::discard_stack(std::vector<span*>& stack) noexcept {
  for (span* s : stack) take_off_stack(s);
  stack.clear();
}

trace_context::removed trace_context::unlink(std::vector<span*>& stack, const span* s) noexcept {
  if (!stack.empty() && stack.back() == s) {
    stack.pop_back();
    return removed::innermost;
  }
  auto it = std::find(stack.rbegin(), stack.rend(), s);
  if (it == stack.rend()) return removed::absent;
  const auto at = std::next(it).base();  // s's position
  // A scope ending below handles opened inside it (operations that end elsewhere, later):
  // the scope makes the span current before it current again, so the handles stop being
  // current. They stay open and end normally; they are only off this stack.
  if (!s->handle_ && std::all_of(at + 1, stack.end(), [](const span* above) { return above->handle_; })) {
    std::for_each(at + 1, stack.end(), take_off_stack);
    stack.erase(at, stack.end());
    return removed::innermost;
  }
  // Out of order (a handle, or a scope below another scope): remove exactly that span;
  // the others keep their links.
  stack.erase(at);
  return removed::inner;
}

// Everything but popping the innermost span branches off to separate functions, so that
// the common path stays free of calls (no register saving on every push and pop).
trace_context::removed trace_context::remove(const span* s) noexcept {
  if (foreign_ends_.load(std::memory_order_relaxed) != 0) [[unlikely]]
    return remove_after_foreign_ends(s);
  auto& stack = st_.stack;
  if (!stack.empty() && stack.back() == s) [[likely]] {
    stack.pop_back();
    return removed::innermost;
  }
  return unlink(stack, s);
}

trace_context::removed trace_context::remove_after_foreign_ends(const span* s) noexcept {
  drop_foreign_ends();
  return unlink(st_.stack, s);
}

std::optional<prela::trace_id> current_trace_id() noexcept {
  const trace_context* c = detail::peek_context();
  if (c == nullptr) return std::nullopt;
  const prela::trace_id id = c->trace_id();
  return id.is_valid() ? std::optional(id) : std::nullopt;
}

void set_baggage(std::string_view key, std::string_view value) {
  get_trace_context().set_baggage(key, value);
}

bool remove_baggage(std::string_view key) {
  trace_context* c = detail::peek_context();
  return c != nullptr && c->remove_baggage(key);
}

context_scope::context_scope(context_scope&& other) noexcept
    : ctx_(std::move(other.ctx_)), saved_(std::move(other.saved_)) {}

context_scope::~context_scope() {
  if (!ctx_) return;
  trace_context* const c = ctx_.get();
  // A flow's state belongs to the thread running it: the one that has the context
  // installed, or, for a thread's own context, that thread. From anywhere else,
  // restoring would race with that thread, so the saved state is dropped instead. A
  // coroutine frame destroyed while suspended (unwinding_mark) takes its context with
  // it: nothing to report then.
  if (c == detail::peek_context() || c == detail::tls.own) {
    c->exchange_state(saved_);
  } else if (!c->frame_unwinding_here()) {
    detail::report_misuse(detail::misuse::trace_scope_in_other_flow);
  }
  // Spans still open in the trace that ends here (handles not yet ended), or in the
  // dropped one, are taken off it.
  trace_context::discard_stack(saved_.stack);
}

context_scope new_trace_context(new_trace_options options) {
  trace_context& ctx = get_trace_context();
  // The fresh state is built in the scope's slot, then exchanged with the context's:
  // the slot then holds the state to restore.
  context_scope scope;
  trace_context::state& fresh = scope.saved_;
  if (!instrumented) {
    // No trace, no baggage: the scope only restores what was there.
  } else if (options.trace_id && options.trace_id->is_valid()) {
    fresh.trace_id = *options.trace_id;
  } else {
    fresh.trace_id = prela::trace_id::generate();
    fresh.random_trace_id = true;
  }
  fresh.explicit_trace = instrumented;
  fresh.sampled = options.sampled;
  if (instrumented && !options.baggage.empty()) {
    fresh.baggage = detail::baggage_access::entries(prela::baggage(options.baggage));
  }
  ctx.exchange_state(scope.saved_);
  scope.ctx_ = detail::context_pin(ctx);
  return scope;
}

}  // namespace prela
