// Trace and span identifiers (W3C Trace Context sizes: 128 and 64 bits).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace prela {

/// 128-bit trace identifier. All-zero is invalid; a default-constructed id is all-zero.
class trace_id {
 public:
  constexpr trace_id() noexcept = default;
  constexpr trace_id(std::uint64_t high, std::uint64_t low) noexcept : high_(high), low_(low) {}

  /// A new random id, never all-zero. Uses a per-thread generator seeded from the OS.
  static trace_id generate() noexcept;
  /// Parses exactly 32 hex digits (either case); nullopt otherwise or if all-zero.
  static std::optional<trace_id> from_hex(std::string_view hex) noexcept;

  [[nodiscard]] constexpr bool is_valid() const noexcept { return (high_ | low_) != 0; }
  [[nodiscard]] constexpr std::uint64_t high() const noexcept { return high_; }
  [[nodiscard]] constexpr std::uint64_t low() const noexcept { return low_; }
  /// 32 lower-case hex digits.
  [[nodiscard]] std::string to_hex() const;
  /// Writes 32 lower-case hex digits to out (no terminator).
  void to_hex(char* out) const noexcept;
  /// The 16 bytes in network order, as they appear in a traceparent header.
  [[nodiscard]] std::array<std::uint8_t, 16> to_bytes() const noexcept;

  friend constexpr bool operator==(const trace_id&, const trace_id&) noexcept = default;
  friend constexpr auto operator<=>(const trace_id&, const trace_id&) noexcept = default;

 private:
  std::uint64_t high_ = 0;
  std::uint64_t low_ = 0;
};

/// 64-bit span identifier. All-zero is invalid.
class span_id {
 public:
  constexpr span_id() noexcept = default;
  constexpr explicit span_id(std::uint64_t value) noexcept : value_(value) {}

  static span_id generate() noexcept;
  /// Parses exactly 16 hex digits (either case); nullopt otherwise or if all-zero.
  static std::optional<span_id> from_hex(std::string_view hex) noexcept;

  [[nodiscard]] constexpr bool is_valid() const noexcept { return value_ != 0; }
  [[nodiscard]] constexpr std::uint64_t value() const noexcept { return value_; }
  [[nodiscard]] std::string to_hex() const;
  void to_hex(char* out) const noexcept;

  friend constexpr bool operator==(const span_id&, const span_id&) noexcept = default;
  friend constexpr auto operator<=>(const span_id&, const span_id&) noexcept = default;

 private:
  std::uint64_t value_ = 0;
};

/// Writes the hex form.
std::ostream& operator<<(std::ostream& os, const trace_id& id);
std::ostream& operator<<(std::ostream& os, const span_id& id);

}  // namespace prela

template <>
struct std::hash<prela::trace_id> {
  std::size_t operator()(const prela::trace_id& id) const noexcept {
    // Generated ids are uniformly random, so mixing the halves is enough.
    return static_cast<std::size_t>(id.high() ^ (id.low() * 0x9e3779b97f4a7c15ULL));
  }
};

template <>
struct std::hash<prela::span_id> {
  std::size_t operator()(const prela::span_id& id) const noexcept {
    return static_cast<std::size_t>(id.value() * 0x9e3779b97f4a7c15ULL);
  }
};
