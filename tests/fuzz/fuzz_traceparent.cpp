// traceparent: parsing never crashes, and what it accepts formats back to a value it
// accepts with the same fields.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "prela/propagation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto tp = prela::w3c::parse_traceparent(in);
  if (!tp) return 0;
  PRELA_FUZZ_CHECK(tp->trace_id.is_valid());
  PRELA_FUZZ_CHECK(tp->parent_id.is_valid());
  PRELA_FUZZ_CHECK((tp->flags & ~0x03U) == 0);
  static const char hex[] = "0123456789abcdef";
  const std::string again = "00-" + tp->trace_id.to_hex() + "-" + tp->parent_id.to_hex() + "-0" + hex[tp->flags];
  const auto reparsed = prela::w3c::parse_traceparent(again);
  PRELA_FUZZ_CHECK(reparsed.has_value());
  PRELA_FUZZ_CHECK(reparsed->trace_id == tp->trace_id && reparsed->parent_id == tp->parent_id);
  PRELA_FUZZ_CHECK(reparsed->flags == tp->flags);
  return 0;
}
