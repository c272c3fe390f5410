// baggage: input lines are header lines. Entries stay within the limits; formatting
// them gives a safe header that parses back to the same entries, leaving out only
// entries that do not fit.
#include <cstdint>
#include <iterator>
#include <string>

#include "fuzz_support.hpp"
#include "prela/propagation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view lines[prela::detail::incoming_headers::max_lines];
  const std::size_t n = prela::fuzz::split_lines(std::string_view(reinterpret_cast<const char*>(data), size),
                                                 lines, prela::detail::incoming_headers::max_lines);
  const auto entries = prela::w3c::parse_baggage(lines, n);
  PRELA_FUZZ_CHECK(entries.size() <= prela::propagation_limits::baggage_entries);
  // Sorted by key, one entry per key.
  for (auto it = entries.begin(); it != entries.end() && std::next(it) != entries.end(); ++it) {
    PRELA_FUZZ_CHECK(it->first < std::next(it)->first);
  }
  const std::string header = prela::w3c::format_baggage(entries);
  PRELA_FUZZ_CHECK(header.size() <= prela::propagation_limits::baggage_bytes);
  PRELA_FUZZ_CHECK(prela::fuzz::header_safe(header));
  PRELA_FUZZ_CHECK(header.find(' ') == std::string::npos);
  const std::string_view again = header;
  const auto reparsed = prela::w3c::parse_baggage(&again, 1);
  // Re-encoding can only grow a value (U+FFFD replacements), so entries may be left
  // out for size; every entry that comes back is exact.
  for (const auto& [key, value] : reparsed) {
    PRELA_FUZZ_CHECK(entries.get(key) == value);
  }
  // An entry is left out only when it does not fit: its own encoding (values with
  // replaced bytes grow up to 9 characters per input byte) would take the header past
  // the limit.
  for (const auto& [key, value] : entries) {
    if (reparsed.contains(key)) continue;
    const std::string alone = prela::w3c::format_baggage({{key, value}});
    PRELA_FUZZ_CHECK(alone.empty() || header.size() + (header.empty() ? 0 : 1) + alone.size() >
                                          prela::propagation_limits::baggage_bytes);
  }
  return 0;
}
