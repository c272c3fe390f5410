// The context of a caller in another process, as extracted from request headers.
#pragma once

#include <string>

#include "prela/baggage.hpp"
#include "prela/ids.hpp"

namespace prela {

struct remote_context {
  prela::trace_id trace_id;
  prela::span_id span_id;  // the remote parent span
  bool sampled = false;
  std::string trace_state;
  /// Shared with the context of a span that continues this one (no copy).
  prela::baggage baggage;
  /// Level 2 "random" trace flag, preserved when continuing the trace.
  bool random_trace_id = false;

  /// A usable parent: both ids valid.
  [[nodiscard]] bool is_valid() const noexcept { return trace_id.is_valid() && span_id.is_valid(); }
};

}  // namespace prela
