// Recycling of one kind of object (spans, context blocks): each thread keeps a short
// list of its own (a free_list in its thread_state, touched by that thread only), in
// front of one shared lock-free stack. Threads push onto the shared stack one object at
// a time and take it whole, never one object, so a push never races a pop of the same
// node (no ABA).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <utility>

#include "prela/detail/thread_state.hpp"

namespace prela::detail {

/// `Next` is T's link member. The shared stack holds at most `max_shared` objects; past
/// that, share() refuses and the caller frees the object (unbounded: a type whose
/// memory is never freed).
template <class T, T* T::*Next, std::uint32_t MaxLocal,
          std::uint32_t MaxShared = std::numeric_limits<std::uint32_t>::max()>
class recycling_pool {
  static constexpr bool bounded = MaxShared != std::numeric_limits<std::uint32_t>::max();

 public:
  /// An object from the thread's list; when that is empty and `refill`, the whole shared
  /// stack moves to the thread's list first. Null when there is none.
  T* take(free_list& local, bool refill) noexcept {
    if (local.head == nullptr && refill && shared_.load(std::memory_order_relaxed) != nullptr) {
      T* all = shared_.exchange(nullptr, std::memory_order_acquire);
      std::uint32_t n = 0;
      for (T* p = all; p != nullptr; p = p->*Next) ++n;
      if constexpr (bounded) shared_count_.fetch_sub(n, std::memory_order_relaxed);
      local.head = all;
      local.count += n;
    }
    T* p = static_cast<T*>(local.head);
    if (p != nullptr) {
      local.head = p->*Next;
      --local.count;
    }
    return p;
  }

  /// Keeps `p` on the thread's list if it has room.
  static bool keep(free_list& local, T* p) noexcept {
    if (local.count >= MaxLocal) return false;
    p->*Next = static_cast<T*>(local.head);
    local.head = p;
    ++local.count;
    return true;
  }

  /// Pushes `p` onto the shared stack; false when that is full.
  bool share(T* p) noexcept {
    if constexpr (bounded) {
      if (shared_count_.fetch_add(1, std::memory_order_relaxed) >= MaxShared) {
        shared_count_.fetch_sub(1, std::memory_order_relaxed);
        return false;
      }
    }
    push(p, p);
    return true;
  }

  /// Empties the thread's list onto the shared stack (unbounded pools: objects never freed).
  void release(free_list& local) noexcept
    requires(!bounded)
  {
    auto* first = static_cast<T*>(std::exchange(local, free_list{}).head);
    if (first == nullptr) return;
    T* last = first;
    while (last->*Next != nullptr) last = last->*Next;
    push(first, last);
  }

  /// Empties the thread's list, each object through `discard` (bounded pools).
  template <class Discard>
  void drain(free_list& local, Discard discard) noexcept
    requires bounded
  {
    auto* first = static_cast<T*>(std::exchange(local, free_list{}).head);
    while (first != nullptr) discard(std::exchange(first, first->*Next));
  }

 private:
  void push(T* first, T* last) noexcept {
    T* head = shared_.load(std::memory_order_relaxed);
    do {
      last->*Next = head;
    } while (
        !shared_.compare_exchange_weak(head, first, std::memory_order_release, std::memory_order_relaxed));
  }

  std::atomic<T*> shared_{nullptr};
  std::atomic<std::uint32_t> shared_count_{0};  // bounded pools only
};

}  // namespace prela::detail
