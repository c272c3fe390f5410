#include "detail/printable.hpp"

#include <cstdint>
#include <cstdio>

#include "detail/text.hpp"

namespace prela::detail {
namespace {

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
    const std::size_t n = utf8_decode(text, i, cp);
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
    if (columns + width > max_columns ||
        (columns + width == max_columns && i + (n == 0 ? 1 : n) < text.size())) {
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
