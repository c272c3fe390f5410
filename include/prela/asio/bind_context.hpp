// prela::asio::bind_context(token) — a completion token adapter: the handler runs
// under a fork of the context current when the asynchronous operation was started.
#pragma once

#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/system_executor.hpp>

#include "prela/asio/context_executor.hpp"
#include "prela/context.hpp"

namespace prela::asio {

/// A handler bound to a context: it runs under that context however it is invoked. The
/// context is installed by operator() (claimed, as flow_guard does), so the handler
/// keeps it under any executor, including one bound around it later
/// (`bind_executor(strand, bind_context(h))`). Its associated executor is also a
/// context_executor over the handler's own, so work Asio runs on the handler's
/// executor before invoking it (the steps of a composed operation) runs under the
/// context too. The allocator, cancellation slot and other associations are the
/// handler's own.
template <class Handler>
class context_handler {
 public:
  context_handler(prela::context_ref ctx, Handler&& h) : ctx_(std::move(ctx)), handler_(std::move(h)) {}
  context_handler(prela::context_ref ctx, const Handler& h) : ctx_(std::move(ctx)), handler_(h) {}

  /// Runs the handler under the context. If another thread has the context installed
  /// (a coroutine's previous resumption can still be returning on another thread when
  /// this one starts), the handler is posted again to its own executor — at once for
  /// the first few attempts, then on a timer, as the adapters do (context_executor.hpp)
  /// — and runs under its thread's own context, counted, only when that fails.
  template <class... Args>
  decltype(auto) operator()(Args&&... args) {
    prela::detail::flow_guard guard(ctx_.get());
    if (guard.busy()) [[unlikely]] {
      using result = decltype(std::move(handler_)(std::forward<Args>(args)...));
      if constexpr (std::is_void_v<result> && (std::is_move_constructible_v<std::decay_t<Args>> && ...)) {
        if (retry(std::forward<Args>(args)...)) return;
      }
      guard.fall_back();
    }
    return std::move(handler_)(std::forward<Args>(args)...);
  }

  [[nodiscard]] const Handler& get() const noexcept { return handler_; }
  [[nodiscard]] Handler& get() noexcept { return handler_; }
  [[nodiscard]] const prela::context_ref& context() const noexcept { return ctx_; }

 private:
  /// Posts this handler and its arguments again; false when it has to run now.
  template <class... Args>
  [[gnu::noinline]] bool retry(Args&&... args) {
    using executor = boost::asio::associated_executor_t<Handler>;
    if constexpr (std::is_same_v<executor, boost::asio::system_executor> ||
                  !boost::asio::can_require<const executor&,
                                            boost::asio::execution::blocking_t::never_t>::value) {
      return false;  // no executor of its own to run it on later
    } else {
      if (attempts_ >= detail::max_reposts) return false;
      const std::uint8_t attempt = ++attempts_;
      const executor ex = boost::asio::get_associated_executor(handler_);
      detail::post_again(
          ex,
          [self = std::move(*this),
           saved = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable {
            std::apply(std::move(self), std::move(saved));
          },
          attempt);
      return true;
    }
  }

  prela::context_ref ctx_;
  std::uint8_t attempts_ = 0;
  Handler handler_;
};

/// The token adapter returned by bind_context(token).
template <class Token>
struct context_token {
  Token token;
};

/// Binds a completion token: `timer.async_wait(prela::asio::bind_context(handler))`.
/// Without instrumentation it returns the token unchanged.
template <class Token>
auto bind_context(Token&& token) {
  if constexpr (!prela::instrumented) {
    return std::decay_t<Token>(std::forward<Token>(token));
  } else {
    return context_token<std::decay_t<Token>>{std::forward<Token>(token)};
  }
}

}  // namespace prela::asio

namespace boost::asio {

template <class Token, class... Signatures>
struct async_result<prela::asio::context_token<Token>, Signatures...> {
  // Binds the handler when the operation actually starts, taking the fork there. A
  // handler that resumes a coroutine of a prela task (use_awaitable, and any adapter
  // around it that forwards Asio's associators) is bound to that task's own context.
  // One that resumes another coroutine is passed through unbound: binding it would
  // resume that coroutine in a fork of whatever was current here.
  template <class Initiation>
  struct init_wrapper {
    Initiation initiation;
    template <class Handler, class... Args>
    void operator()(Handler&& handler, Args&&... args) {
      using handler_type = std::decay_t<Handler>;
      using bound = prela::asio::context_handler<handler_type>;
      if constexpr (prela::asio::detail::resumes_coroutine_v<handler_type>) {
        prela::context_ref task(prela::asio::detail::task_resumed_by(handler));
        if (!task) {
          std::move(initiation)(std::forward<Handler>(handler), std::forward<Args>(args)...);
          return;
        }
        std::move(initiation)(bound(std::move(task), std::forward<Handler>(handler)),
                              std::forward<Args>(args)...);
      } else {
        std::move(initiation)(bound(prela::detail::fork_current(), std::forward<Handler>(handler)),
                              std::forward<Args>(args)...);
      }
    }
  };

  // The return type is spelled out, not deduced: Asio probes overloads through it (a
  // deferred operation's copying const& call operator among them), and a deduced type
  // would instantiate the body, turning a failed probe into a hard error.
  template <class Initiation, class RawToken, class... Args>
  static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args)
      -> decltype(async_initiate<Token, Signatures...>(std::declval<init_wrapper<std::decay_t<Initiation>>>(),
                                                       std::declval<Token&>(), std::declval<Args>()...)) {
    // async_initiate<Token> forwards the wrapped token as a Token&&: a move-only
    // handler is moved, never copied.
    return async_initiate<Token, Signatures...>(
        init_wrapper<std::decay_t<Initiation>>{std::forward<Initiation>(initiation)}, token.token,
        std::forward<Args>(args)...);
  }
};

template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct associator<Associator, prela::asio::context_handler<Handler>, DefaultCandidate> {
  using type = typename Associator<Handler, DefaultCandidate>::type;
  static type get(const prela::asio::context_handler<Handler>& h) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.get());
  }
  static auto get(const prela::asio::context_handler<Handler>& h, const DefaultCandidate& c) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(h.get(), c)) {
    return Associator<Handler, DefaultCandidate>::get(h.get(), c);
  }
};

template <class Handler, class Executor>
struct associated_executor<prela::asio::context_handler<Handler>, Executor> {
  using inner = typename associated_executor<Handler, Executor>::type;
  using type = prela::asio::context_executor<inner>;
  static type get(const prela::asio::context_handler<Handler>& h, const Executor& ex = Executor()) noexcept {
    return type(associated_executor<Handler, Executor>::get(h.get(), ex), h.context());
  }
};

}  // namespace boost::asio
