// Hex encoding and decoding of ids, eight digits per step. Ids are written into every
// traceparent, X-Trace-ID and exported span, and read from every incoming traceparent:
// a loop with a table lookup per digit cost ~4 instructions per digit, these ~1.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace prela::detail {

/// The digits of lower-case hex, by value.
inline constexpr char hex_digits[] = "0123456789abcdef";

/// Digit values by character, -1 for a character that is not a digit of that kind.
constexpr std::array<std::int8_t, 256> make_hex_table(bool upper_too) {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
  if (upper_too) {
    for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'A' + 10);
  }
  return t;
}
inline constexpr auto lower_hex_table = make_hex_table(false);
inline constexpr auto any_hex_table = make_hex_table(true);

/// Value of a lower-case hex digit, -1 for anything else (W3C Trace Context is
/// lower-case only).
constexpr int lower_hex(char c) noexcept { return lower_hex_table[static_cast<unsigned char>(c)]; }
/// Value of a hex digit of either case, -1 for anything else.
constexpr int any_hex(char c) noexcept { return any_hex_table[static_cast<unsigned char>(c)]; }

/// Between an 8-byte load or store and a value whose highest byte is the first character.
inline std::uint64_t to_big_endian(std::uint64_t x) noexcept {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(x);
  return x;
}

/// Writes the 8 hex digits (lower case) of v, most significant first.
inline void write_hex32(std::uint32_t v, char* out) noexcept {
  // Spread the nibbles into bytes, the least significant nibble in the lowest byte.
  std::uint64_t x = v;
  x = ((x & 0xFFFF0000ULL) << 16) | (x & 0xFFFFULL);
  x = ((x & 0x0000FF000000FF00ULL) << 8) | (x & 0x000000FF000000FFULL);
  x = ((x & 0x00F000F000F000F0ULL) << 4) | (x & 0x000F000F000F000FULL);
  // Digits 10..15 become 'a'..'f': 0x06 added carries into bit 4 exactly for them.
  const std::uint64_t letters = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
  x += 0x3030303030303030ULL + letters * ('a' - '0' - 10);
  x = to_big_endian(x);  // the most significant digit first in memory
  std::memcpy(out, &x, 8);
}

/// Writes the 16 hex digits (lower case) of v, most significant first.
inline void write_hex64(std::uint64_t v, char* out) noexcept {
#if defined(__SSE2__)  // x86-64: little-endian, SSE2 always there
  // The bytes most significant first, each split into its high and low nibble, then
  // 0-9 and 10-15 mapped to '0'-'9' and 'a'-'f' sixteen at a time: one 16-byte store
  // instead of two 8-byte ones built a nibble at a time.
  const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(__builtin_bswap64(v)));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
  const __m128i low = _mm_and_si128(bytes, nibble);
  const __m128i values = _mm_unpacklo_epi8(high, low);
  const __m128i letters = _mm_cmpgt_epi8(values, _mm_set1_epi8(9));
  const __m128i digits = _mm_add_epi8(_mm_add_epi8(values, _mm_set1_epi8('0')),
                                      _mm_and_si128(letters, _mm_set1_epi8('a' - '0' - 10)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   digits);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
#else
  write_hex32(static_cast<std::uint32_t>(v >> 32), out);
  write_hex32(static_cast<std::uint32_t>(v), out + 8);
#endif
}

/// Reads 8 lower-case hex digits; false if any character is not one ('0'-'9', 'a'-'f').
inline bool parse_lower_hex32(const char* in, std::uint32_t& out) noexcept {
  std::uint64_t x = 0;
  std::memcpy(&x, in, 8);
  x = to_big_endian(x);  // the last digit in the lowest byte
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  // For bytes below 0x80, adding (0x80 - lo) sets the high bit exactly when byte >= lo;
  // no byte carries into the next.
  const std::uint64_t ascii = ~x & high;
  const std::uint64_t y = x & ~high;
  const std::uint64_t ge_0 = y + ones * (0x80 - '0');
  const std::uint64_t gt_9 = y + ones * (0x80 - '9' - 1);
  const std::uint64_t ge_a = y + ones * (0x80 - 'a');
  const std::uint64_t gt_f = y + ones * (0x80 - 'f' - 1);
  const std::uint64_t valid = ascii & ((ge_0 & ~gt_9) | (ge_a & ~gt_f));
  if (valid != high) return false;
  // '0'..'9' are 0x30..0x39 and 'a'..'f' 0x61..0x66: the low nibble, plus 9 for letters.
  std::uint64_t d = (y & 0x0F0F0F0F0F0F0F0FULL) + ((y >> 6) & ones) * 9;
  d = (d | (d >> 4)) & 0x00FF00FF00FF00FFULL;
  d = (d | (d >> 8)) & 0x0000FFFF0000FFFFULL;
  d = (d | (d >> 16)) & 0x00000000FFFFFFFFULL;
  out = static_cast<std::uint32_t>(d);
  return true;
}

/// Reads 16 lower-case hex digits.
inline bool parse_lower_hex64(const char* in, std::uint64_t& out) noexcept {
#if defined(__SSE2__)  // x86-64: little-endian, SSE2 always there
  // All sixteen at once: classify ('0'-'9' or 'a'-'f'; bytes from 0x80 compare as
  // negative and fail both), subtract '0' or 'a' - 10, then join each pair of nibbles
  // into a byte and pack the eight bytes.
  const __m128i v = _mm_loadu_si128(
      reinterpret_cast<const __m128i*>(in));  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  const __m128i digit =
      _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
  const __m128i letter =
      _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('f' + 1)));
  if (_mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xFFFF) return false;
  const __m128i offset =
      _mm_or_si128(_mm_and_si128(digit, _mm_set1_epi8('0')), _mm_and_si128(letter, _mm_set1_epi8('a' - 10)));
  const __m128i nibbles = _mm_sub_epi8(v, offset);
  // Each 16-bit lane holds two digits, the first in its low byte: (first << 4) | second.
  const __m128i pairs = _mm_and_si128(_mm_or_si128(_mm_slli_epi16(nibbles, 4), _mm_srli_epi16(nibbles, 8)),
                                      _mm_set1_epi16(0x00FF));
  const auto packed = static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs)));
  out = __builtin_bswap64(packed);  // the first digits are the most significant
  return true;
#else
  std::uint32_t hi = 0;
  std::uint32_t lo = 0;
  const bool ok = parse_lower_hex32(in, hi) && parse_lower_hex32(in + 8, lo);
  out = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return ok;
#endif
}

}  // namespace prela::detail
