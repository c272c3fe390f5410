// Small text helpers shared by the parsers and the exporters: whitespace trimming,
// UTF-8 validation and repair, percent-decoding, and copying short strings. Header-only, so that the fuzz
// targets that compile the encoders' own sources get them too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "hex.hpp"

namespace prela::detail {

/// HTTP's optional whitespace (space and tab).
/// Copies `n` bytes, sizeof(Word) <= n <= 2 * sizeof(Word), as two fixed-size loads
/// and stores (overlapping when `n` is not twice the word).
template <class Word>
void copy_two_words(char* dst, const char* src, std::size_t n) noexcept {
  Word first{};
  Word last{};
  std::memcpy(&first, src, sizeof(Word));
  std::memcpy(&last, src + n - sizeof(Word), sizeof(Word));
  std::memcpy(dst, &first, sizeof(Word));
  std::memcpy(dst + n - sizeof(Word), &last, sizeof(Word));
}

/// memcpy for the short strings headers are made of (keys, values, ids): up to 16
/// bytes with fixed-size loads and stores the compiler inlines, no call; longer ones
/// through memcpy. Returns `dst + n`.
inline char* copy_short(char* dst, const char* src, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) {
    copy_two_words<std::uint64_t>(dst, src, n);
  } else if (n >= 4 && n < 8) {
    copy_two_words<std::uint32_t>(dst, src, n);
  } else if (n < 4) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, n);
  }
  return dst + n;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

/// `s` without leading and trailing spaces and tabs.
constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

/// Length of the valid UTF-8 sequence that starts at text[i] (i < text.size()) and its
/// code point; 0 if the bytes there are not one (overlong forms, surrogates and code
/// points past U+10FFFF are not).
inline std::size_t utf8_decode(std::string_view text, std::size_t i, char32_t& cp) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < text.size() && (byte(k) & 0xC0) == 0x80; };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF && cont(1)) {
    cp = (char32_t{b0} & 0x1F) << 6 | (byte(1) & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF && cont(1) && cont(2)) {
    cp = (char32_t{b0} & 0x0F) << 12 | (char32_t{byte(1)} & 0x3F) << 6 | (byte(2) & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    cp = (char32_t{b0} & 0x07) << 18 | (char32_t{byte(1)} & 0x3F) << 12 | (char32_t{byte(2)} & 0x3F) << 6 |
         (byte(3) & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

/// Length of the valid UTF-8 sequence that starts at text[i], or 0.
inline std::size_t utf8_sequence(std::string_view text, std::size_t i) noexcept {
  char32_t cp = 0;
  return utf8_decode(text, i, cp);
}

/// Appends `in` with each byte that is not part of valid UTF-8 replaced by U+FFFD.
inline void append_utf8_sanitized(std::string& out, std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t n = utf8_sequence(in, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
}

/// Percent-decodes `in` into `out` (replacing its content); false, with `out`
/// unspecified, when a '%' is not followed by two hex digits of either case.
inline bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = any_hex(in[i + 1]);
    const int lo = any_hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
  }
  return true;
}

}  // namespace prela::detail
