// Text from users and from remote input (span names, attribute values, status messages,
// a receiver's response body), made safe to print on a terminal or in a log line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace prela::detail {

/// Appends `text` to `out` with everything a terminal or a log reader would act on
/// escaped: C0 and C1 control characters and DEL (ESC, BEL, CR, LF, ...) as `\xNN`
/// (`\n`, `\r`, `\t` for the common three), bytes that are not valid UTF-8 as `\xNN`,
/// and the invisible characters that reorder or hide text (bidirectional overrides and
/// isolates, line and paragraph separators) as `\u{NNNN}`. Other UTF-8 passes through.
/// At most `max_columns` columns (a code point or one escape character each) are
/// written; longer text ends in "…". Returns the columns written.
std::size_t append_printable(std::string& out, std::string_view text, std::size_t max_columns);

/// The same, as a new string.
inline std::string printable(std::string_view text, std::size_t max_columns) {
  std::string out;
  append_printable(out, text, max_columns);
  return out;
}

}  // namespace prela::detail
