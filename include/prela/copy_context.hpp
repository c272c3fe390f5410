// copy_context_to_thread: carry the current context into a callable that runs
// elsewhere (a thread, a pool, a callback), under a fresh fork per invocation.
#pragma once

#include <type_traits>
#include <utility>

#include "prela/config.hpp"
#include "prela/context.hpp"
#include "prela/detail/flow.hpp"

namespace prela {

namespace detail {

/// A callable that runs `f` under a fork of a captured context (copy_context_to_thread).
template <class F>
class context_bound {
 public:
  context_bound(context_ref origin, F f) : origin_(std::move(origin)), f_(std::move(f)) {}

  template <class... Args>
  decltype(auto) operator()(Args&&... args) & {
    return invoke(f_, std::forward<Args>(args)...);
  }
  template <class... Args>
  decltype(auto) operator()(Args&&... args) const& {
    return invoke(f_, std::forward<Args>(args)...);
  }
  template <class... Args>
  decltype(auto) operator()(Args&&... args) && {
    return invoke(std::move(f_), std::forward<Args>(args)...);
  }

 private:
  template <class G, class... Args>
  decltype(auto) invoke(G&& g, Args&&... args) const {
    // A fresh fork per invocation: concurrent or repeated calls never share spans.
    context_ref ctx = origin_->fork();
    context_guard guard(ctx.get());
    return std::forward<G>(g)(std::forward<Args>(args)...);
  }

  context_ref origin_;  // a fork taken at wrap time, never installed itself
  F f_;
};

}  // namespace detail

/// Wraps `f` so that, wherever and however often it is invoked, it runs under a fork of
/// the context current here, and the invoking thread's own context is back afterwards.
template <class F>
auto copy_context_to_thread(F&& f) {
  if constexpr (!instrumented) {
    return std::decay_t<F>(std::forward<F>(f));
  } else {
    return detail::context_bound<std::decay_t<F>>(detail::fork_current(), std::forward<F>(f));
  }
}

/// Alias of copy_context_to_thread.
template <class F>
auto bind_context(F&& f) {
  return copy_context_to_thread(std::forward<F>(f));
}

}  // namespace prela
