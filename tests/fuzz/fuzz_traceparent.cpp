// traceparent: parsing never crashes, agrees with a character-by-character reading of
// the Recommendation (the parser reads eight digits at a time), and what it accepts
// formats back to a value it accepts with the same fields.
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_support.hpp"
#include "prela/propagation.hpp"

namespace {

int lower_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/// The digits v[from, from + n) as a number; nullopt unless all are lower-case hex.
std::optional<std::uint64_t> reference_hex(std::string_view v, std::size_t from, std::size_t n) {
  std::uint64_t x = 0;
  for (std::size_t i = from; i < from + n; ++i) {
    const int d = lower_hex_digit(v[i]);
    if (d < 0) return std::nullopt;
    x = x * 16 + static_cast<std::uint64_t>(d);
  }
  return x;
}

std::optional<prela::w3c::traceparent_fields> reference_parse(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() < 55) return std::nullopt;
  const auto version = reference_hex(v, 0, 2);
  if (!version || *version == 0xff || (*version == 0 && v.size() != 55)) return std::nullopt;
  if (v.size() > 55 && v[55] != '-') return std::nullopt;
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  const auto hi = reference_hex(v, 3, 16);
  const auto lo = reference_hex(v, 19, 16);
  const auto parent = reference_hex(v, 36, 16);
  const auto flags = reference_hex(v, 53, 2);
  if (!hi || !lo || !parent || !flags || (*hi == 0 && *lo == 0) || *parent == 0) return std::nullopt;
  prela::w3c::traceparent_fields f;
  f.trace_id = prela::trace_id(*hi, *lo);
  f.parent_id = prela::span_id(*parent);
  f.flags = static_cast<std::uint8_t>(*flags & 0x03U);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto tp = prela::w3c::parse_traceparent(in);
  const auto expected = reference_parse(in);
  PRELA_FUZZ_CHECK(tp.has_value() == expected.has_value());
  if (!tp) return 0;
  PRELA_FUZZ_CHECK(tp->trace_id == expected->trace_id && tp->parent_id == expected->parent_id);
  PRELA_FUZZ_CHECK(tp->flags == expected->flags);
  PRELA_FUZZ_CHECK(tp->trace_id.is_valid());
  PRELA_FUZZ_CHECK(tp->parent_id.is_valid());
  PRELA_FUZZ_CHECK((tp->flags & ~0x03U) == 0);
  static const char hex[] = "0123456789abcdef";
  const std::string again =
      "00-" + tp->trace_id.to_hex() + "-" + tp->parent_id.to_hex() + "-0" + hex[tp->flags];
  const auto reparsed = prela::w3c::parse_traceparent(again);
  PRELA_FUZZ_CHECK(reparsed.has_value());
  PRELA_FUZZ_CHECK(reparsed->trace_id == tp->trace_id && reparsed->parent_id == tp->parent_id);
  PRELA_FUZZ_CHECK(reparsed->flags == tp->flags);
  return 0;
}
