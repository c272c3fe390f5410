// The demo's live view of its open spans (prela::inflight()), served by --serve:
//   GET /debug/prela/inflight  the snapshot as JSON
//   GET /debug/prela           a self-contained HTML page showing it as trees, refreshed
#pragma once

#include <string>
#include <vector>

#include <prela/inflight.hpp>

namespace demo {

/// {"open_spans": N, "spans": [{"trace_id", "span_id", "parent_span_id", "name", "type",
/// "sampled", "start_time_unix_nano", "age_ms", "flow", "running", "thread"}, ...]}, oldest
/// first. Ids and the flow are hex strings (JavaScript numbers cannot hold 64 bits).
std::string inflight_json(const std::vector<prela::inflight_span>& spans);

/// The page: the snapshot rendered as text trees (prela::write_inflight), replaced every
/// two seconds by a fresh one fetched from /debug/prela/inflight. No external assets.
std::string inflight_page(const std::vector<prela::inflight_span>& spans);

}  // namespace demo
