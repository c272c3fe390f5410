// A timeline for ui.perfetto.dev and chrome://tracing (Chrome trace-event JSON).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "prela/exporter.hpp"

namespace prela {
namespace detail {
class file_sink;
}

/// Writes complete ("X") events: one process per trace (named after its root span),
/// one thread track per task inside it — spans that run concurrently (a gather's
/// children, co_spawned tasks) get tracks of their own, so each track nests properly.
/// Span type is the category, attributes and ids are args. The file is a JSON array,
/// written as spans arrive and closed by shutdown(); viewers also load it unclosed
/// (after a crash). Open it at https://ui.perfetto.dev ("Open trace file"). Write
/// failures are handled as by jsonl_exporter: a batch is written whole or not at all,
/// the first failure and the recovery are reported, force_flush() and shutdown() return
/// false after one. A path that cannot be written (a directory, /proc/version) is
/// refused at construction.
class perfetto_exporter final : public exporter {
 public:
  /// Throws std::runtime_error naming the path and the reason if it cannot be created
  /// and written.
  explicit perfetto_exporter(std::filesystem::path path);
  ~perfetto_exporter() override;

  export_result export_spans(std::span<const span_data> spans) override;
  bool force_flush(std::chrono::milliseconds timeout) override;
  bool shutdown(std::chrono::milliseconds timeout) override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept;

 private:
  // Intervals (start, end in ns) already placed on each track of a trace. Spans arrive
  // as they end (children before parents), so a span goes on the first track where it
  // overlaps nothing except by nesting.
  using track = std::vector<std::pair<std::int64_t, std::int64_t>>;
  struct trace_tracks {
    int pid = 0;
    std::vector<track> tracks;
  };
  static constexpr std::size_t max_remembered_traces = 4096;
  int track_for(trace_tracks& t, const span_data& s);
  bool close_locked();

  std::mutex mu_;
  std::unique_ptr<detail::file_sink> sink_;
  bool first_event_ = true;
  int next_pid_ = 1;
  std::map<trace_id, trace_tracks> traces_;
  std::deque<trace_id> trace_order_;  // oldest first, for forgetting traces
  std::string buffer_;
};

}  // namespace prela
