// prela::preserve — keeps a coroutine's trace context across a co_await, for coroutine
// types other than boost::asio::awaitable (which prela::asio handles through its
// executor). No Asio needed.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

#include "prela/context.hpp"

namespace prela {
namespace detail {

template <class A>
concept has_co_await_operator = requires(A&& a) { std::forward<A>(a).operator co_await(); } ||
                                requires(A&& a) { operator co_await(std::forward<A>(a)); };

/// What `co_await a` awaits: the result of a's operator co_await (kept as it is
/// returned: a value, or a reference when the operator returns one) next to `a` itself;
/// or, for an awaiter, `a` alone: the caller's object for an lvalue, moved in once for
/// an rvalue.
template <class Awaitable, bool = has_co_await_operator<Awaitable>>
class awaiter_of {
 public:
  explicit awaiter_of(Awaitable&& a) : awaiter_(std::forward<Awaitable>(a)) {}
  std::remove_reference_t<Awaitable>& get() noexcept { return awaiter_; }

 private:
  Awaitable awaiter_;
};

/// What `a`'s operator co_await returns, as it returns it.
template <class A>
decltype(auto) apply_co_await(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else {
    return operator co_await(std::forward<A>(a));
  }
}

template <class Awaitable>
class awaiter_of<Awaitable, true> {
  using awaiter_type = decltype(apply_co_await(std::declval<Awaitable>()));

 public:
  explicit awaiter_of(Awaitable&& a)
      : awaitable_(std::forward<Awaitable>(a)),
        awaiter_(apply_co_await(std::forward<Awaitable>(awaitable_))) {}
  std::remove_reference_t<awaiter_type>& get() noexcept { return awaiter_; }

 private:
  Awaitable awaitable_;
  awaiter_type awaiter_;
};

/// Holds the awaiting coroutine's context (a reference, so it stays alive however the
/// coroutine is resumed) and puts it back on whichever thread resumes the coroutine.
template <class Awaitable>
class preserving_awaiter {
 public:
  explicit preserving_awaiter(Awaitable&& a) : awaiter_(std::forward<Awaitable>(a)) {}

  bool await_ready() { return awaiter_.get().await_ready(); }

  template <class Promise>
  auto await_suspend(std::coroutine_handle<Promise> h) {
    trace_context* c = peek_context();
    context_ = context_ref(c);
    return awaiter_.get().await_suspend(h);
  }

  decltype(auto) await_resume() {
    // Resumed possibly on another thread, under whatever context was current there.
    // The coroutine's own context is installed for the rest of its run; whoever resumed
    // it inline restores its own context afterwards (see preserve's documentation).
    if (context_) install_current(context_.get());
    return awaiter_.get().await_resume();
  }

 private:
  awaiter_of<Awaitable> awaiter_;
  context_ref context_;
};

}  // namespace detail

/// Saves this thread's current context and puts it back on destruction: for code that
/// resumes coroutines inline (a hand-written scheduler, an event loop) so that the
/// resumed coroutine's context does not stay installed afterwards.
///
///     { prela::saved_context keep; handle.resume(); }
class saved_context {
 public:
  saved_context() noexcept : previous_(detail::peek_context()) {}
  saved_context(const saved_context&) = delete;
  saved_context& operator=(const saved_context&) = delete;
  ~saved_context() { detail::set_current(previous_); }

 private:
  trace_context* previous_;
};

/// `co_await prela::preserve(some_awaitable)`: after the wrapped await completes, the
/// awaiting coroutine sees the trace context it had before, wherever it was resumed.
/// The code that resumes coroutines inline must restore its own context afterwards
/// (prela's executors do; a hand-written scheduler uses prela::saved_context). The
/// awaiter holds the context only while suspended: keep a span scope open for the
/// task's duration so that its context stays alive between awaits. Without
/// instrumentation it returns the awaitable itself (an lvalue as a reference).
template <class Awaitable>
auto preserve(Awaitable&& a)
    -> std::conditional_t<instrumented, detail::preserving_awaiter<Awaitable>, Awaitable> {
  if constexpr (!instrumented) {
    return std::forward<Awaitable>(a);
  } else {
    return detail::preserving_awaiter<Awaitable>(std::forward<Awaitable>(a));
  }
}

}  // namespace prela
