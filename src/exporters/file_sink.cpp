#include "file_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "detail/diagnostics.hpp"
#include "detail/printable.hpp"

namespace prela::detail {

file_sink::file_sink(std::filesystem::path path, mode m, const char* exporter, std::string_view header)
    : path_(std::move(path)), exporter_(exporter) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (m == mode::append ? O_APPEND : O_TRUNC);
  fd_ = ::open(path_.c_str(), flags, 0644);
  if (fd_ < 0) {
    throw std::runtime_error("prela: cannot open " + path_.string() +
                             " for writing: " + std::strerror(errno));
  }
  struct stat st {};
  regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  std::size_t done = 0;
  if (const int error = write_all(header, done); error != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("prela: cannot write to " + path_.string() + ": " + std::strerror(error));
  }
}

int file_sink::write_all(std::string_view data, std::size_t& done) noexcept {
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return n < 0 ? errno : EIO;
    }
  }
  return 0;
}

file_sink::~file_sink() { close(); }

bool file_sink::write(std::string_view data) {
  if (fd_ < 0) return false;
  std::string prefixed;
  if (line_open_) {  // end the half line a failed write left, so this batch starts clean
    prefixed.reserve(data.size() + 1);
    prefixed.push_back('\n');
    prefixed.append(data);
    data = prefixed;
  }
  const off_t start = regular_ ? ::lseek(fd_, 0, SEEK_END) : 0;
  std::size_t done = 0;
  const int error = write_all(data, done);
  if (error == 0) {
    line_open_ = false;
    if (failing_) report(false, {});
    return true;
  }
  std::string reason = std::strerror(error);
  if (done > 0) {
    if (regular_ && start >= 0 && ::ftruncate(fd_, start) == 0) {
      reason += "; the partly written batch was removed";
    } else {
      line_open_ = data[done - 1] != '\n';
      reason += "; the file holds part of the batch";
    }
  }
  failed_since_check_ = true;
  if (!failing_) report(true, reason);
  return false;
}

bool file_sink::take_ok() noexcept {
  const bool ok = !failed_since_check_ && !failing_;
  failed_since_check_ = false;
  return ok;
}

bool file_sink::close() noexcept {
  if (fd_ < 0) return false;
  const bool ok = ::close(fd_) == 0;
  fd_ = -1;
  return ok;
}

void file_sink::report(bool now_failing, const std::string& reason) {
  failing_ = now_failing;
  const std::string where = printable(path_.string(), 200);
  if (now_failing) {
    diagnose(std::string("prela: the ") + exporter_ + " exporter cannot write to " + where + " (" + reason +
             "); batches that fail are dropped and counted in tracer_stats::export_failures");
  } else {
    diagnose(std::string("prela: the ") + exporter_ + " exporter writes to " + where + " again");
  }
}

}  // namespace prela::detail
