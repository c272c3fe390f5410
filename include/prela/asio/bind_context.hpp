// prela::asio::bind_context(token) — a completion token adapter: the handler runs
// under a fork of the context current when the asynchronous operation was started.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>

#include "prela/asio/context_executor.hpp"
#include "prela/context.hpp"

namespace prela::asio {

/// A handler bound to a context. Its associated executor is a context_executor over the
/// handler's own associated executor, so Asio runs it under the context whichever way
/// it completes; the allocator, cancellation slot and other associations are the
/// handler's own. The context is installed by that executor, not by operator(). An
/// adapter's function runs inside those of the executors beneath it, so this context
/// would win over one carried by the handler's own executor; that is why a handler
/// whose executor already carries a context (one resuming a coroutine) is never wrapped
/// (see async_result below): a coroutine always resumes in its own flow.
template <class Handler>
class context_handler {
 public:
  context_handler(prela::context_ref ctx, Handler h) : ctx_(std::move(ctx)), handler_(std::move(h)) {}

  template <class... Args>
  decltype(auto) operator()(Args&&... args) {
    return std::move(handler_)(std::forward<Args>(args)...);
  }

  [[nodiscard]] const Handler& get() const noexcept { return handler_; }
  [[nodiscard]] Handler& get() noexcept { return handler_; }
  [[nodiscard]] const prela::context_ref& context() const noexcept { return ctx_; }

 private:
  prela::context_ref ctx_;
  Handler handler_;
};

/// The token adapter returned by bind_context(token).
template <class Token>
struct context_token {
  Token token;
};

/// Binds a completion token: `timer.async_wait(prela::asio::bind_context(handler))`.
template <class Token>
context_token<std::decay_t<Token>> bind_context(Token&& token) {
  return {std::forward<Token>(token)};
}

}  // namespace prela::asio

namespace boost::asio {

template <class Token, class... Signatures>
struct async_result<prela::asio::context_token<Token>, Signatures...> {
  // Binds the handler when the operation actually starts, taking the fork there. A
  // handler whose executor already carries a context (it resumes a coroutine started
  // by prela::asio) belongs to that flow and is passed through unchanged: binding it
  // would resume the coroutine in a fork of itself.
  template <class Initiation>
  struct init_wrapper {
    Initiation initiation;
    template <class Handler, class... Args>
    void operator()(Handler&& handler, Args&&... args) {
      const auto ex = boost::asio::get_associated_executor(handler);
      if (prela::asio::detail::visit_context_executor(ex, [](const auto&) {})) {
        std::move(initiation)(std::forward<Handler>(handler), std::forward<Args>(args)...);
      } else {
        std::move(initiation)(prela::asio::context_handler<std::decay_t<Handler>>(prela::detail::fork_current(),
                                                                                 std::forward<Handler>(handler)),
                              std::forward<Args>(args)...);
      }
    }
  };

  template <class Initiation, class RawToken, class... Args>
  static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args) {
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
