#include "detail/printable.hpp"

#include <cstdint>
#include <cstdio>

namespace prela::detail {
namespace {

/// Length of the UTF-8 sequence starting at text[i] and its code point, or 0 if the
/// bytes there are not a valid (shortest-form, non-surrogate) sequence.
std::size_t decode(std::string_view text, std::size_t i, char32_t& cp) {
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

bool hides_or_reorders(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) ||  // bidirectional embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069) ||  // bidirectional isolates
         cp == 0x200E || cp == 0x200F ||    // directional marks
         cp == 0x2028 || cp == 0x2029 ||    // line and paragraph separators
         cp == 0x061C;                      // Arabic letter mark
}

}  // namespace

std::size_t append_printable(std::string& out, std::string_view text, std::size_t max_columns) {
  std::size_t columns = 0;
  std::string escape;
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t n = decode(text, i, cp);
    escape.clear();
    if (n == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[i])));
      escape = buf;
    } else if (cp == '\n') {
      escape = "\\n";
    } else if (cp == '\r') {
      escape = "\\r";
    } else if (cp == '\t') {
      escape = "\\t";
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(cp));
      escape = buf;
    } else if (hides_or_reorders(cp)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(cp));
      escape = buf;
    }
    const std::size_t width = escape.empty() ? 1 : escape.size();
    if (columns + width > max_columns || (columns + width == max_columns && i + (n == 0 ? 1 : n) < text.size())) {
      out += "…";
      return columns + 1;
    }
    if (escape.empty()) {
      out.append(text.substr(i, n));
    } else {
      out += escape;
    }
    columns += width;
    i += n == 0 ? 1 : n;
  }
  return columns;
}

}  // namespace prela::detail
