#include "verify.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace demo {

trace_check check_traces(std::span<const prela::span_data> spans) {
  trace_check c;
  c.spans = spans.size();
  std::unordered_map<std::uint64_t, const prela::span_data*> by_id;
  by_id.reserve(spans.size());
  for (const auto& s : spans) by_id.emplace(s.span_id.value(), &s);

  struct per_trace {
    std::size_t spans = 0;
    std::size_t roots = 0;
    bool error = false;
  };
  std::map<prela::trace_id, per_trace> traces;
  for (const auto& s : spans) {
    auto& t = traces[s.trace_id];
    ++t.spans;
    if (s.status == prela::span_status::error) {
      ++c.errors;
      t.error = true;
    }
    if (s.parent_is_remote) ++c.remote_parents;
    if (!s.parent_span_id.is_valid()) {
      ++c.roots;
      ++t.roots;
      continue;
    }
    const auto it = by_id.find(s.parent_span_id.value());
    if (it == by_id.end()) {
      ++c.orphans;
    } else if (it->second->trace_id != s.trace_id) {
      ++c.cross_trace;
    }
  }

  // Depth by walking up; memoized, and bounded in case ids ever formed a cycle.
  std::unordered_map<std::uint64_t, std::size_t> depth;
  for (const auto& s : spans) {
    std::size_t d = 1;
    const prela::span_data* p = &s;
    while (p->parent_span_id.is_valid() && d <= spans.size()) {
      if (const auto known = depth.find(p->parent_span_id.value()); known != depth.end()) {
        d += known->second;
        break;
      }
      const auto it = by_id.find(p->parent_span_id.value());
      if (it == by_id.end()) break;
      p = it->second;
      ++d;
    }
    depth[s.span_id.value()] = d;
    c.max_depth = std::max(c.max_depth, d);
  }

  c.traces = traces.size();
  for (const auto& [id, t] : traces) {
    if (t.roots != 1) ++c.traces_not_one_root;
    c.min_spans_per_trace = c.min_spans_per_trace == 0 ? t.spans : std::min(c.min_spans_per_trace, t.spans);
    c.max_spans_per_trace = std::max(c.max_spans_per_trace, t.spans);
    if (!c.example) c.example = id;
  }
  for (const auto& [id, t] : traces) {
    if (t.error && t.roots == 1) {
      c.example = id;
      break;
    }
  }
  return c;
}

}  // namespace demo
