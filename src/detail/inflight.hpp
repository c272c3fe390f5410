// The record of open spans behind prela::inflight().
//
// Every span, sampled or not, takes a slot in a table of its starting thread while it
// is open. A slot holds a fixed-size copy of what the live view shows (ids, type, start,
// the flow, the name up to inline_name_bytes) in atomic words, written once at start
// under a sequence number in the slot's state word (a seqlock): a reader that finds the
// state unchanged before and after copying the words has a consistent copy, and never
// touches the span object itself, which may be ended and recycled meanwhile.
//
// Costs on the span's path, with nobody reading: at start a pop from the thread's own
// free list and up to fourteen plain stores; at end, on the thread that started the
// span, one store and a push back to that list. A span ended on another thread marks
// its slot closed with one compare-and-swap, and the owner takes it back when its free
// list runs out. Tables and their slots are never freed, so a reader may read any slot
// at any time; a table whose thread has exited is adopted by the next thread that needs
// one.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "detail/sdk_thread_state.hpp"
#include "prela/ids.hpp"
#include "prela/span.hpp"

namespace prela {
class trace_context;
}

namespace prela::detail {

struct inflight_table;

inline constexpr std::size_t inline_name_bytes = 40;

/// One open span's copy for the live view. 128 bytes: two cache lines.
struct alignas(64) inflight_slot {
  // (uses << 2) | phase. `uses` counts the slot's spans, so a reader can tell a slot
  // that was reused while it copied from one that was not.
  enum phase : std::uint64_t { free = 0, open = 2, closed_elsewhere = 3 };
  static constexpr std::size_t name_word = 8;
  std::atomic<std::uint64_t> state{0};
  // trace id (2), span id, parent span id, start time, context pointer,
  // context generation | starting thread id, type | flags | name length | bits, name.
  std::atomic<std::uint64_t> words[name_word + inline_name_bytes / 8] = {};
  inflight_table* table = nullptr;     // set before the slot is published, then constant
  inflight_slot* next_free = nullptr;  // in its table's free list; owner only
};
static_assert(sizeof(inflight_slot) == 128);

/// A thread's slots: chunks that are only ever added, and the owner's free list.
struct inflight_table {
  struct chunk {
    explicit chunk(std::size_t n) : slots(new inflight_slot[n]), size(n) {}
    inflight_slot* slots;  // never freed
    std::size_t size;
    std::atomic<chunk*> next{nullptr};
  };
  std::atomic<chunk*> first{nullptr};
  chunk* last = nullptr;           // owner only
  std::size_t capacity = 0;        // slots in all chunks; owner only
  inflight_slot* free = nullptr;   // owner only
  inflight_table* next = nullptr;  // in the list of all tables (constant once listed)
};

/// What a span's end needs to close its slot (null slot: the span is not in the view).
struct inflight_ticket {
  inflight_slot* slot = nullptr;
  std::uint64_t state = 0;
};

/// Slow path of inflight_open: a table for this thread, taken-back or new slots.
inflight_slot* inflight_take_slot() noexcept;

// Names are packed into words and read back through memcpy, in memory order.
static_assert(std::endian::native == std::endian::little, "inflight_open packs names little-endian");

/// Records an open span in a slot of this thread's table and publishes it (state
/// `open`). `name` is the span's name_. Never throws: without memory the span is simply
/// not listed.
[[gnu::always_inline]] inline inflight_ticket inflight_open(const span& s, const std::string& name,
                                                            const trace_context& ctx,
                                                            std::uint32_t ctx_generation, bool own_context,
                                                            std::chrono::nanoseconds start) noexcept {
  sdk_thread_state& t = sdk_tls;
  auto* table = static_cast<inflight_table*>(t.inflight);
  inflight_slot* slot = table != nullptr ? table->free : nullptr;
  if (slot != nullptr) [[likely]] {
    table->free = slot->next_free;
  } else {
    slot = inflight_take_slot();
    if (slot == nullptr) return {};
  }
  // The slot's state already says it is not open (free, since its last span closed):
  // a reader that copies while the words change sees the state change to this span's
  // `open` (the fence orders the close before the words), and drops the copy.
  const std::uint64_t uses = (slot->state.load(std::memory_order_relaxed) | 3) + 1;  // next multiple of 4
  std::atomic_thread_fence(std::memory_order_release);
  const auto put = [slot](std::size_t i, std::uint64_t v) {
    slot->words[i].store(v, std::memory_order_relaxed);
  };
  std::size_t len = name.size();
  std::uint64_t cut = 0;
  if (len > inline_name_bytes) [[unlikely]] {
    cut = 1;
    len = inline_name_bytes;
    while (len > 0 && (static_cast<unsigned char>(name[len]) & 0xC0) == 0x80) --len;  // a whole code point
  }
  put(0, s.trace_id().high());
  put(1, s.trace_id().low());
  put(2, s.span_id().value());
  put(3, s.parent_span_id().value());
  put(4, static_cast<std::uint64_t>(start.count()));
  put(5, reinterpret_cast<std::uintptr_t>(&ctx));
  put(6, (std::uint64_t{ctx_generation} << 32) | t.thread_id);
  put(7, static_cast<std::uint64_t>(s.type()) | (std::uint64_t{s.trace_flags()} << 8) |
             (std::uint64_t{len} << 16) | (cut << 24) | (std::uint64_t{own_context} << 25));
  // The name in whole words. A partial last word is read as the 8 bytes ending at the
  // name's end, shifted down; a name shorter than 8 bytes as the first 8 bytes of the
  // string's buffer, which std::string never makes smaller than 16 bytes (its short-
  // string buffer), masked. No byte loop, no read outside the buffer.
  const char* p = name.data();
  const std::size_t whole = len / 8;
  for (std::size_t i = 0; i < whole; ++i) {
    std::uint64_t v;
    std::memcpy(&v, p + 8 * i, 8);
    put(inflight_slot::name_word + i, v);
  }
  if (const std::size_t rest = len % 8; rest != 0) {
    std::uint64_t v;
    if (len >= 8) {
      std::memcpy(&v, p + len - 8, 8);
      v >>= 8 * (8 - rest);
    } else {
      std::memcpy(&v, p, 8);
      v &= (std::uint64_t{1} << (8 * rest)) - 1;
    }
    put(inflight_slot::name_word + whole, v);
  }
  slot->state.store(uses | inflight_slot::open, std::memory_order_release);
  return {slot, uses | inflight_slot::open};
}

/// Takes an ended span out of the view. On the thread that owns the slot, straight back
/// to its free list; elsewhere marked closed (a compare-and-swap: a second close of the
/// same ticket, two threads ending one span at once, changes nothing) for the owner to
/// take back.
[[gnu::always_inline]] inline void inflight_close(const inflight_ticket& t) noexcept {
  inflight_slot* slot = t.slot;
  if (slot == nullptr) return;
  inflight_table* table = slot->table;
  if (sdk_tls.inflight == table) [[likely]] {
    if (slot->state.load(std::memory_order_relaxed) != t.state) return;         // closed already
    slot->state.store(t.state & ~std::uint64_t{3}, std::memory_order_release);  // free
    slot->next_free = table->free;
    table->free = slot;
    return;
  }
  std::uint64_t expected = t.state;
  slot->state.compare_exchange_strong(expected,
                                      (t.state & ~std::uint64_t{3}) | inflight_slot::closed_elsewhere,
                                      std::memory_order_release, std::memory_order_relaxed);
}

/// Thread exit: leaves this thread's table for another thread to adopt.
void inflight_release_thread() noexcept;
/// fork(): held across it, so that the child's table list is not left locked.
void inflight_lock_for_fork() noexcept;
void inflight_unlock_after_fork_in_parent() noexcept;
/// In a fork() child: closes the spans of the threads that did not survive the fork,
/// and unlocks.
void inflight_after_fork_in_child() noexcept;

/// The contexts installed on live threads now, with each thread's id (thread_registry.cpp).
struct installed_flow {
  const void* context;
  std::uint32_t thread;
};
std::vector<installed_flow> installed_flows();

/// Starts/stops the slow-span reporter (tracer_impl, under its lifecycle lock).
class slow_span_watch;
struct slow_span_watch_deleter {
  void operator()(slow_span_watch* w) const noexcept;
};
using slow_span_watch_ptr = std::unique_ptr<slow_span_watch, slow_span_watch_deleter>;
slow_span_watch_ptr start_slow_span_watch(std::chrono::milliseconds threshold);
/// In a fork() child: the watch's thread is gone; forget it without joining.
void abandon_slow_span_watch(slow_span_watch_ptr& w) noexcept;

}  // namespace prela::detail
