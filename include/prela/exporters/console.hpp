// Prints each trace as a tree with durations and a timeline bar.
#pragma once

#include <chrono>
#include <cstddef>
#include <iostream>
#include <map>
#include <mutex>
#include <ostream>
#include <span>
#include <vector>

#include "prela/exporter.hpp"

namespace prela {

struct console_options {
  std::size_t bar_width = 32;              // characters of the timeline bar
  bool show_attributes = true;             // indented lines of attributes and events under each span
  std::size_t max_buffered_spans = 10000;  // past this, incomplete traces are printed as they are
  /// Columns of a name, attribute key or value, event name or status message (at least
  /// 8); longer ones are cut and end in "…". Control characters are always escaped.
  std::size_t max_text_columns = 120;
  /// Tree levels drawn with indentation; deeper spans are drawn at this depth, marked
  /// with their depth.
  std::size_t max_depth = 32;
};

/// Names, attributes and messages are printed with control characters escaped (`\x1B`,
/// `\n`, ...), invalid UTF-8 as `\xNN`, and cut at `max_text_columns`: a span name
/// cannot move the cursor, retitle the terminal or forge a line of output.
///
/// Spans are buffered per trace until the trace's local root ends (the last span to end
/// in well-nested code); the whole tree is then printed at once. Spans arriving after
/// their root are printed on their own, marked "(late)". force_flush and shutdown print
/// whatever is still buffered.
class console_exporter final : public exporter {
 public:
  explicit console_exporter(std::ostream& out = std::cout, console_options options = {});
  export_result export_spans(std::span<const span_data> spans) override;
  bool force_flush(std::chrono::milliseconds timeout) override;
  bool shutdown(std::chrono::milliseconds timeout) override;

 private:
  void flush_all();

  std::ostream& out_;
  console_options options_;
  std::mutex mu_;
  std::map<trace_id, std::vector<span_data>> pending_;
  std::size_t pending_count_ = 0;
};

/// Prints `spans` (one trace, in any order) as the console exporter does, at once: a
/// tree under each span whose parent is not among them. For spans collected another
/// way, e.g. a trace picked out of a memory_exporter.
void print_trace(std::ostream& out, std::span<const span_data> spans, const console_options& options = {});

}  // namespace prela
