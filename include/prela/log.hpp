// Log correlation: the trace and span ids of the flow that is logging, cheap enough to
// fetch for every log line. Adapters for spdlog (<prela/spdlog.hpp>) and Boost.Log
// (<prela/boost_log.hpp>) put them into each line; any other logger can call
// current_log_fields() from its formatting hook, on the thread that logs.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include "prela/ids.hpp"

namespace prela {

/// The lower-case hex digits of an id, held in place (no allocation): empty, or exactly
/// N characters. Converts to std::string_view.
template <std::size_t N>
class hex_digits {
 public:
  constexpr hex_digits() noexcept = default;
  explicit hex_digits(const trace_id& id) noexcept
    requires(N == 32)
  {
    assign(id);
  }
  explicit hex_digits(const span_id& id) noexcept
    requires(N == 16)
  {
    assign(id);
  }
  /// The id's digits, or empty for an invalid id.
  void assign(const trace_id& id) noexcept
    requires(N == 32)
  {
    id.to_hex(digits_);
    size_ = id.is_valid() ? N : 0;
  }
  void assign(const span_id& id) noexcept
    requires(N == 16)
  {
    id.to_hex(digits_);
    size_ = id.is_valid() ? N : 0;
  }

  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  [[nodiscard]] constexpr const char* data() const noexcept { return digits_; }
  [[nodiscard]] constexpr std::string_view view() const noexcept { return {digits_, size_}; }
  constexpr operator std::string_view() const noexcept {
    return view();
  }  // NOLINT(google-explicit-constructor)
  [[nodiscard]] std::string str() const { return std::string(view()); }

  friend constexpr bool operator==(const hex_digits& a, std::string_view b) noexcept { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const hex_digits& h) { return os << h.view(); }

 private:
  char digits_[N] = {};
  std::size_t size_ = 0;
};

/// What a log line needs to be joined with the trace it was written in.
struct log_fields {
  hex_digits<32> trace_id;  // empty when the flow has no span
  hex_digits<16> span_id;   // the flow's current span; empty when it has none
  bool sampled = false;     // whether that span is recorded (exported)
};

/// The calling flow's current span, as log fields: the thread's context, or inside a
/// coroutine run by prela's Asio integration, the coroutine's. Unsampled spans have ids
/// too (their trace may be sampled further downstream). No allocation, no lock.
[[nodiscard]] log_fields current_log_fields() noexcept;

}  // namespace prela
