// The output file of the JSONL and Perfetto exporters.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace prela::detail {

/// Writes whole batches or nothing. A write that fails part-way (disk full, a quota,
/// an I/O error) is cut back to where the batch started when the file is a regular
/// file, so the file never holds half a record; elsewhere (a pipe, a device) the next
/// batch starts on a new line. The first failure is reported through the diagnostic
/// handler with its reason, and so is the first success after it. Not thread-safe: the
/// exporter holds its own lock.
class file_sink {
 public:
  enum class mode { append, truncate };
  /// Opens (creates) `path` and writes `header` to it; throws std::runtime_error naming
  /// the path and the reason if either fails (a read-only file, /proc/version).
  file_sink(std::filesystem::path path, mode m, const char* exporter, std::string_view header = {});
  ~file_sink();
  file_sink(const file_sink&) = delete;
  file_sink& operator=(const file_sink&) = delete;

  /// Writes all of `data`; false (and nothing of it left in a regular file) otherwise.
  bool write(std::string_view data);
  /// False if a write failed since the last call or the last write failed (what
  /// force_flush and shutdown report).
  bool take_ok() noexcept;
  /// Closes the file; false if closing failed or it was already closed.
  bool close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  /// Writes data[done..] (EINTR retried), advancing `done`; 0, or the errno it stopped on.
  int write_all(std::string_view data, std::size_t& done) noexcept;
  void report(bool now_failing, const std::string& reason);

  std::filesystem::path path_;
  const char* exporter_;
  int fd_ = -1;
  bool regular_ = false;
  bool failing_ = false;  // reported as failing, not yet as recovered
  bool failed_since_check_ = false;
  bool line_open_ = false;  // a failed write left an unterminated line (not a regular file)
};

}  // namespace prela::detail
