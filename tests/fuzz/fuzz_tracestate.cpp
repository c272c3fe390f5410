// tracestate: input lines are header lines. The result is within the limits, safe to
// write, and a fixed point (parsing it again gives it back).
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "prela/propagation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view lines[prela::detail::incoming_headers::max_lines];
  const std::size_t n = prela::fuzz::split_lines(std::string_view(reinterpret_cast<const char*>(data), size),
                                                 lines, prela::detail::incoming_headers::max_lines);
  const std::string state = prela::w3c::parse_tracestate(lines, n);
  if (state.empty()) return 0;
  PRELA_FUZZ_CHECK(state.size() <= prela::propagation_limits::tracestate_bytes);
  PRELA_FUZZ_CHECK(prela::fuzz::header_safe(state));
  const std::string_view again = state;
  PRELA_FUZZ_CHECK(prela::w3c::parse_tracestate(&again, 1) == state);
  return 0;
}
