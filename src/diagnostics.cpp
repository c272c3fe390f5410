#include "prela/diagnostics.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "detail/diagnostics.hpp"
#include "detail/fork.hpp"
#include "detail/printable.hpp"

namespace prela {
namespace {

constexpr std::size_t max_columns = 2000;
constexpr auto repeat_window = std::chrono::seconds(10);

// Messages delivered recently, by hash: a repeat within the window is held back and
// counted, and the count goes with the next delivery of that message.
struct recent {
  std::uint64_t hash = 0;
  std::chrono::steady_clock::time_point delivered;
  std::uint64_t held_back = 0;
};

struct state {
  std::mutex mu;
  std::shared_ptr<const diagnostic_handler> handler;  // null: stderr
  std::array<recent, 32> recents{};
};

// Never destroyed: warnings may come from exporter threads during static destruction.
state& diagnostics() {
  static state* s = new state;
  return *s;
}

thread_local bool in_handler = false;

void to_stderr(const std::string& line) noexcept {
  try {  // one write, so that lines of several threads do not interleave
    std::string out = line;
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stderr);
  } catch (...) {  // out of memory: two writes then
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
  }
}

std::uint64_t hash_of(std::string_view text) noexcept {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

}  // namespace

void set_diagnostic_handler(diagnostic_handler handler) {
  auto next = handler ? std::make_shared<const diagnostic_handler>(std::move(handler)) : nullptr;
  auto& s = diagnostics();
  const std::lock_guard lock(s.mu);
  s.handler = std::move(next);
}

namespace detail {

void lock_diagnostics_for_fork() noexcept { diagnostics().mu.lock(); }
void unlock_diagnostics_after_fork() noexcept { diagnostics().mu.unlock(); }

void diagnose(std::string_view message) noexcept {
  try {
    std::string line = printable(message, max_columns);
    auto& s = diagnostics();
    std::shared_ptr<const diagnostic_handler> handler;
    {
      const std::lock_guard lock(s.mu);
      const std::uint64_t h = hash_of(line);
      const auto now = std::chrono::steady_clock::now();
      recent* slot = nullptr;
      recent* oldest = &s.recents[0];
      for (auto& r : s.recents) {
        if (r.hash == h) slot = &r;
        if (r.delivered < oldest->delivered) oldest = &r;
      }
      if (slot != nullptr && now - slot->delivered < repeat_window) {
        ++slot->held_back;
        return;
      }
      if (slot == nullptr) slot = oldest;
      if (slot->hash == h && slot->held_back != 0) {
        line += " (" + std::to_string(slot->held_back) + " more like this were held back)";
      }
      *slot = {h, now, 0};
      handler = s.handler;
    }
    if (handler == nullptr || in_handler) {
      to_stderr(line);
      return;
    }
    in_handler = true;
    try {
      (*handler)(line);
    } catch (...) {  // a handler's failure is its own
    }
    in_handler = false;
  } catch (...) {  // out of memory while formatting: nothing more can be said
  }
}

}  // namespace detail
}  // namespace prela
