// prela's Boost.Asio integration (namespace prela::asio): the trace context follows
// every co_await. See docs/coroutines.md.
#pragma once

#include "prela/asio/awaitable_operators.hpp"
#include "prela/asio/bind_context.hpp"
#include "prela/asio/co_spawn.hpp"
#include "prela/asio/context_executor.hpp"
#include "prela/asio/gather.hpp"
#include "prela/asio/new_flow.hpp"
#include "prela/asio/traced.hpp"
#include "prela/prela.hpp"
