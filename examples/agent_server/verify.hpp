// Checks computed from the exported spans: does every request come out as one
// complete, correctly linked trace?
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include <prela/span.hpp>

namespace demo {

struct trace_check {
  std::size_t spans = 0;
  std::size_t traces = 0;
  std::size_t roots = 0;                ///< spans without a parent: one per request
  std::size_t traces_not_one_root = 0;  ///< traces with no root, or several
  std::size_t min_spans_per_trace = 0;
  std::size_t max_spans_per_trace = 0;
  std::size_t orphans = 0;                 ///< parent id set, parent not among the spans
  std::size_t cross_trace = 0;             ///< parent found, but in another trace
  std::size_t remote_parents = 0;          ///< spans continuing a parent from the headers
  std::size_t errors = 0;                  ///< spans with error status
  std::size_t max_depth = 0;               ///< a root is depth 1
  std::optional<prela::trace_id> example;  ///< a trace worth printing: one with an error, if any
};

trace_check check_traces(std::span<const prela::span_data> spans);

}  // namespace demo
