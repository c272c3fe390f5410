// The live view: every span that has started and not yet ended, whatever thread or
// suspended coroutine holds it. See docs/observability.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "prela/ids.hpp"
#include "prela/span.hpp"

namespace prela {

/// One open span, as prela::inflight() saw it.
struct inflight_span {
  prela::trace_id trace_id;
  prela::span_id span_id;
  prela::span_id parent_span_id;  // invalid for a root
  /// The span's name; names longer than 40 bytes are cut there (at a UTF-8 boundary)
  /// and end in "…".
  std::string name;
  prela::span_type type = prela::span_type::custom;
  bool sampled = false;
  /// Since the Unix epoch, as span_data::start_time. A span that does not record
  /// (unsampled, or started before init()) reads no clock when it starts: it is dated
  /// by the first snapshot that sees it open, so its start is a bound (no earlier than
  /// this) and its age a lower bound.
  std::chrono::nanoseconds start_time{};
  /// How long it has been open when the snapshot was taken.
  std::chrono::nanoseconds age{};
  /// The flow (task, coroutine, thread) whose context the span was opened in: an id
  /// shared by that flow's spans, unique among the flows alive at the same time.
  std::uint64_t flow = 0;
  /// The flow is installed on a thread now (its code is running, or blocked in a call);
  /// false: suspended (a coroutine waiting in co_await, work waiting in a queue). A
  /// thread's own flow (code outside any task) counts as running on that thread.
  bool running = false;
  /// The kernel's id of the thread running the flow (`thread` when running), else of
  /// the thread that started the span.
  std::uint32_t thread = 0;
};

/// A snapshot of every open span in the process, oldest first. Safe from any thread at
/// any time: it copies each span's entry without stopping or locking the flows that own
/// them (an entry changing while it is copied is skipped: its span just ended), so a
/// span and its parent may be seen a moment apart.
std::vector<inflight_span> inflight();

/// The snapshot as text: one tree per trace, oldest first, each span with its age, type,
/// flow and whether it runs or is suspended. Names are escaped as the console exporter
/// escapes them.
void write_inflight(std::ostream& out);
/// The same, for a snapshot already taken.
void write_inflight(std::ostream& out, const std::vector<inflight_span>& spans);

}  // namespace prela
