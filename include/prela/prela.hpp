// prela — trace context that follows asynchronous C++ code.
// The core: identifiers, spans, contexts, the tracer, sampling, the exporter interface,
// propagation and coroutine helpers. Asio integration: <prela/asio.hpp>; exporters:
// <prela/exporters/*.hpp>.
#pragma once

#include "prela/attributes.hpp"
#include "prela/clock.hpp"
#include "prela/context.hpp"
#include "prela/coro.hpp"
#include "prela/diagnostics.hpp"
#include "prela/exporter.hpp"
#include "prela/ids.hpp"
#include "prela/inflight.hpp"
#include "prela/log.hpp"
#include "prela/propagation.hpp"
#include "prela/remote_context.hpp"
#include "prela/sampler.hpp"
#include "prela/span.hpp"
#include "prela/tracer.hpp"
#include "prela/version.hpp"
