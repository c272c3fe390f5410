// One JSON object per span per line, in the shape prela for Python writes (its span
// to_dict), so tools that read those files read these.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "prela/exporter.hpp"

namespace prela {
namespace detail {
class file_sink;
}

/// Appends each span as a line of JSON: span_id, trace_id, parent_span_id (null for a
/// root), name, span_type, started_at, ended_at (ISO 8601 UTC, microseconds),
/// duration_ms, status, status_message (null when empty), attributes (an object),
/// events (name, timestamp, attributes). The file is opened for appending and each
/// batch is written through at once, so it can be tailed and survives a crash up to the
/// last batch. A batch is written whole or not at all: after a failed write (disk full)
/// the part already written is removed again, so every line stays a complete record and
/// the spans counted as failed are exactly those missing. The first failure and the
/// recovery are reported through the diagnostic handler; force_flush() and shutdown()
/// return false if a batch failed since the previous call or the last one failed.
class jsonl_exporter final : public exporter {
 public:
  /// Throws std::runtime_error naming the path and the reason if it cannot be opened.
  explicit jsonl_exporter(std::filesystem::path path);
  ~jsonl_exporter() override;

  export_result export_spans(std::span<const span_data> spans) override;
  bool force_flush(std::chrono::milliseconds timeout) override;
  bool shutdown(std::chrono::milliseconds timeout) override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept;

 private:
  std::mutex mu_;
  std::unique_ptr<detail::file_sink> sink_;
  std::string buffer_;
};

/// Appends one span in the jsonl_exporter's shape (no newline).
void append_span_json(std::string& out, const span_data& span);

}  // namespace prela
