// Shared by the libFuzzer targets: checks that abort (so the fuzzer reports them) and
// the header-safety rule for anything prela writes.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define PRELA_FUZZ_CHECK(cond)                                                      \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace prela::fuzz {

/// A header value prela writes may hold visible ASCII, and spaces only inside
/// tracestate values: never CR, LF, NUL, other controls or non-ASCII bytes.
inline bool header_safe(std::string_view v) {
  for (char c : v) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7f) return false;
  }
  return true;
}

/// Splits the input into at most `max` lines.
template <class Out>
std::size_t split_lines(std::string_view in, Out* out, std::size_t max) {
  std::size_t n = 0;
  while (n < max) {
    const std::size_t nl = in.find('\n');
    out[n++] = in.substr(0, nl);
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  return n;
}

}  // namespace prela::fuzz
