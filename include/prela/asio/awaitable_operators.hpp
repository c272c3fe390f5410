// prela::asio::awaitable_operators — `&&` and `||` on awaitables, with the meaning of
// Boost.Asio's experimental awaitable operators, except that each operand runs under a
// fork of its own (Asio's give both operands the parent's context, so two operands
// opening spans corrupt each other's nesting).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/asio/multiple_exceptions.hpp>

#include "prela/asio/gather.hpp"

namespace prela::asio::awaitable_operators {

namespace detail {

// `&&` results: void contributes nothing, a tuple contributes its elements (so a && b
// && c is one flat tuple, as in Asio), anything else itself; one element stands alone.
template <class T>
struct and_parts {
  using type = std::tuple<T>;
};
template <>
struct and_parts<void> {
  using type = std::tuple<>;
};
template <class... T>
struct and_parts<std::tuple<T...>> {
  using type = std::tuple<T...>;
};
template <class T>
using and_parts_t = typename and_parts<T>::type;

template <class Tuple>
struct collapse {
  using type = Tuple;
};
template <>
struct collapse<std::tuple<>> {
  using type = void;
};
template <class T>
struct collapse<std::tuple<T>> {
  using type = T;
};

template <class T, class U>
using and_result_t = typename collapse<decltype(std::tuple_cat(std::declval<and_parts_t<T>>(),
                                                               std::declval<and_parts_t<U>>()))>::type;

template <class T>
boost::asio::awaitable<and_parts_t<T>> as_parts(boost::asio::awaitable<T> a) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
    co_return std::tuple<>{};
  } else if constexpr (std::is_same_v<and_parts_t<T>, T>) {
    co_return co_await std::move(a);
  } else {
    co_return std::tuple<T>(co_await std::move(a));
  }
}

// `||` results: void becomes monostate, a variant contributes its alternatives.
template <class T>
struct or_parts {
  using type = std::variant<prela::asio::detail::result_of_t<T>>;
};
template <class... T>
struct or_parts<std::variant<T...>> {
  using type = std::variant<T...>;
};
template <class T>
using or_parts_t = typename or_parts<T>::type;

template <class A, class B>
struct variant_cat;
template <class... A, class... B>
struct variant_cat<std::variant<A...>, std::variant<B...>> {
  using type = std::variant<A..., B...>;
};
template <class T, class U>
using or_result_t = typename variant_cat<or_parts_t<T>, or_parts_t<U>>::type;

template <class T>
boost::asio::awaitable<or_parts_t<T>> as_alternatives(boost::asio::awaitable<T> a) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
    co_return or_parts_t<T>(std::monostate{});
  } else if constexpr (std::is_same_v<or_parts_t<T>, T>) {
    co_return co_await std::move(a);
  } else {
    co_return or_parts_t<T>(co_await std::move(a));
  }
}

/// Which operands finished; when the group cancels the others, their flows are marked
/// cancelled so that their spans end with status "cancelled". Lives in run_pair's frame:
/// the group calls its condition, and the operands finish, before run_pair resumes.
struct operand_state {
  std::array<prela::context_ref, 2> contexts;
  std::array<std::atomic<bool>, 2> finished{};
};

template <class T>
boost::asio::awaitable<T> record_finish(operand_state* state, std::size_t index,
                                        boost::asio::awaitable<T> a) {
  struct on_exit {
    operand_state& s;
    std::size_t i;
    ~on_exit() { s.finished[i].store(true, std::memory_order_relaxed); }
  } guard{*state, index};
  co_return co_await std::move(a);
}

template <class Condition>
struct mark_losers {
  operand_state* state;
  Condition condition;
  template <class... Args>
  boost::asio::cancellation_type_t operator()(Args&&... args) const {
    const auto cancel = condition(std::forward<Args>(args)...);
    if (cancel != boost::asio::cancellation_type::none) {
      for (std::size_t i = 0; i < state->contexts.size(); ++i) {
        // No context without instrumentation (make_child).
        if (!state->finished[i].load(std::memory_order_relaxed) && state->contexts[i])
          prela::detail::mark_cancelled(*state->contexts[i]);
      }
    }
    return cancel;
  }
};

/// Moves alternative i of v into alternative Offset + i of Result.
template <class Result, std::size_t Offset, class V, std::size_t... I>
Result rebase(V&& v, std::index_sequence<I...>) {
  using fn = Result (*)(V&&);
  static constexpr fn table[] = {[](V&& x) -> Result {
    return Result(std::in_place_index<Offset + I>, std::get<I>(std::forward<V>(x)));
  }...};
  return table[v.index()](std::forward<V>(v));
}

template <class Condition, class T, class U>
auto run_pair(Condition condition, boost::asio::awaitable<T> t, boost::asio::awaitable<U> u)
    -> boost::asio::awaitable<
        std::tuple<std::array<std::size_t, 2>, std::exception_ptr, T, std::exception_ptr, U>> {
  const auto ex = co_await boost::asio::this_coro::executor;
  operand_state state;
  const auto strand = prela::asio::detail::serialized(ex);
  const auto first = prela::asio::detail::make_child(strand);
  const auto second = prela::asio::detail::make_child(strand);
  state.contexts = {first.context, second.context};
  auto [order, e0, r0, e1, r1] =
      co_await boost::asio::experimental::make_parallel_group(
          prela::asio::detail::spawn_child(first, record_finish(&state, 0, std::move(t))),
          prela::asio::detail::spawn_child(second, record_finish(&state, 1, std::move(u))))
          .async_wait(mark_losers<Condition>{&state, condition}, boost::asio::deferred);
  co_return std::make_tuple(order, e0, std::move(r0), e1, std::move(r1));
}

}  // namespace detail

/// Both operands concurrently, each in its own flow. If one fails, the other is
/// cancelled (its spans end as "cancelled") and the exception is rethrown; both
/// failing throws boost::asio::multiple_exceptions, as in Asio.
template <class T, class U>
boost::asio::awaitable<detail::and_result_t<T, U>> operator&&(boost::asio::awaitable<T> t,
                                                              boost::asio::awaitable<U> u) {
  auto [order, e0, r0, e1, r1] =
      co_await detail::run_pair(boost::asio::experimental::wait_for_one_error(),
                                detail::as_parts(std::move(t)), detail::as_parts(std::move(u)));
  (void)order;
  if (e0 && e1) throw boost::asio::multiple_exceptions(e0);
  if (e0) std::rethrow_exception(e0);
  if (e1) std::rethrow_exception(e1);
  auto all = std::tuple_cat(std::move(r0), std::move(r1));
  if constexpr (std::is_void_v<detail::and_result_t<T, U>>) {
    co_return;
  } else if constexpr (std::tuple_size_v<decltype(all)> == 1) {
    co_return std::move(std::get<0>(all));
  } else {
    co_return std::move(all);
  }
}

/// Both operands concurrently, each in its own flow; the first to complete wins and
/// the other is cancelled (its spans end as "cancelled"). The result says which won
/// (std::variant, void as std::monostate). If the winner failed, its exception is
/// rethrown.
template <class T, class U>
boost::asio::awaitable<detail::or_result_t<T, U>> operator||(boost::asio::awaitable<T> t,
                                                             boost::asio::awaitable<U> u) {
  auto [order, e0, r0, e1, r1] =
      co_await detail::run_pair(boost::asio::experimental::wait_for_one(),
                                detail::as_alternatives(std::move(t)), detail::as_alternatives(std::move(u)));
  using result = detail::or_result_t<T, U>;
  using left = detail::or_parts_t<T>;
  using right = detail::or_parts_t<U>;
  if (order[0] == 0) {
    if (e0) std::rethrow_exception(e0);
    co_return detail::rebase<result, 0>(std::move(r0), std::make_index_sequence<std::variant_size_v<left>>{});
  }
  if (e1) std::rethrow_exception(e1);
  co_return detail::rebase<result, std::variant_size_v<left>>(
      std::move(r1), std::make_index_sequence<std::variant_size_v<right>>{});
}

}  // namespace prela::asio::awaitable_operators
