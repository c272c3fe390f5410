// prela::asio::new_flow — a flow of its own for a callback-style session: a span for the
// session, and an executor under which every handler is a child of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "prela/asio/context_executor.hpp"
#include "prela/tracer.hpp"

namespace prela::asio {

template <class Executor>
class flow_executor;

namespace detail {

/// What the copies of one flow_executor share: the flow's context, never installed
/// itself (each handler runs in a fork of it), and the flow's span, current in it. The
/// span ends when the last copy of the executor is destroyed.
class flow_state {
 public:
  flow_state(std::string_view name, span_type type, prela::attributes attrs)
      : context_(trace_context::create()) {
    // The span is started in the flow's context, installed on this thread only for that:
    // the context is new, so no other thread can reach it yet.
    prela::detail::context_guard guard(context_.get());
    span_.emplace(get_tracer().start_span(name, type, std::move(attrs)));
  }
  flow_state(const flow_state&) = delete;
  flow_state& operator=(const flow_state&) = delete;
  ~flow_state() = default;

  [[nodiscard]] prela::span& span() const noexcept { return **span_; }
  /// A fork of the flow: its spans are children of the flow's span.
  [[nodiscard]] prela::context_ref fork() const { return context_->fork(); }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  std::atomic<std::uint32_t> refs_{1};
  prela::context_ref context_;
  std::optional<span_handle> span_;
};

using flow_ref = prela::detail::ref_ptr<flow_state>;

/// A submitted function run under a fresh fork of a flow: concurrent handlers of one
/// session never share a span stack, and a handler that starts the session's next
/// operation does not become the parent of the next handler.
template <class F, class Executor>
class run_in_flow {
 public:
  run_in_flow(flow_ref flow, const Executor& /*ex*/, F&& f) : flow_(std::move(flow)), f_(std::move(f)) {}
  run_in_flow(flow_ref flow, const Executor& /*ex*/, const F& f) : flow_(std::move(flow)), f_(f) {}

  void operator()() {
    const prela::context_ref fork = flow_->fork();
    prela::detail::context_guard guard(fork.get());
    std::move(f_)();
  }

 private:
  flow_ref flow_;
  F f_;
};

}  // namespace detail

/// The executor of a callback-style session that has a flow of its own (see new_flow()):
/// every function submitted through it runs under a fresh fork of the flow, so the spans
/// a handler opens are children of the flow's span, and handlers of one session are
/// siblings however they chain (each one starting the next operation) and on whatever
/// threads they run. Copies share the flow; the flow's span ends when the last copy is
/// destroyed (the session's sockets and timers are gone and no operation of theirs is
/// pending). Queries are forwarded to the inner executor; require/prefer re-wrap the
/// result with the same flow.
template <class Executor>
class flow_executor
    : public detail::adapter_base<flow_executor, Executor, detail::flow_ref, detail::run_in_flow> {
  using base = detail::adapter_base<flow_executor, Executor, detail::flow_ref, detail::run_in_flow>;

 public:
  using base::base;

  /// The flow's span (for attributes known later, such as the peer's address).
  [[nodiscard]] prela::span& span() const noexcept { return this->reference()->span(); }
};

/// Gives a callback-style session a flow of its own: starts a span `name` as the root
/// of a new trace (not a child of whatever is current here: a connection accepted in a
/// listener's loop is not part of the listener's work) and returns an executor over `ex`
/// whose handlers each run in a fork of that flow. One line per accepted connection:
///
///     auto session = std::make_shared<echo_session>(
///         tcp::socket(prela::asio::new_flow(socket.get_executor(), "connection"),
///                     socket.local_endpoint().protocol(), socket.release()));
///
/// or build the session's I/O objects from the returned executor in the first place
/// (`acceptor.async_accept(prela::asio::new_flow(ex, "connection"), token)` gives the
/// accepted socket that executor). An any_io_executor holding a prela adapter (a task's
/// executor) is unwrapped, so the session's handlers pass one adapter, not two.
template <class Executor>
  requires boost::asio::execution::is_executor<Executor>::value
auto new_flow(const Executor& ex, std::string_view name, span_type type = span_type::custom,
              prela::attributes attrs = {}) {
  auto flow = detail::flow_ref::adopt(new detail::flow_state(name, type, std::move(attrs)));
  if constexpr (detail::is_any_io_executor_v<Executor>) {
    return flow_executor<boost::asio::any_io_executor>(detail::beneath_adapter(ex), std::move(flow));
  } else if constexpr (detail::is_context_executor<Executor>::value) {
    using inner = std::decay_t<decltype(ex.get_inner_executor())>;
    return flow_executor<inner>(ex.get_inner_executor(), std::move(flow));
  } else {
    return flow_executor<Executor>(ex, std::move(flow));
  }
}

}  // namespace prela::asio
