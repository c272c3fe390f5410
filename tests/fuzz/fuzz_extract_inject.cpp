// extract -> continue -> inject: input is a header block ("name: value" lines, names
// may repeat), read as Beast fields and as a std::map. Whatever arrives, the span
// continues a valid parent or starts a new trace, and what is injected is safe to write
// and extracts back to this span's context.
#include <boost/beast/http/fields.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "fuzz_support.hpp"
#include "prela/prela.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  boost::beast::http::fields fields;
  std::map<std::string, std::string> map;
  while (!in.empty()) {
    const std::size_t nl = in.find('\n');
    const std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    try {
      fields.insert(name, value);  // Beast refuses names it cannot write: skip those
    } catch (const std::exception&) {
      continue;
    }
    map[std::string(name)] = std::string(value);
  }

  const prela::remote_context remote = prela::extract(fields);
  (void)prela::extract(map);
  PRELA_FUZZ_CHECK(remote.is_valid() || !remote.span_id.is_valid() || !remote.trace_id.is_valid());
  PRELA_FUZZ_CHECK(remote.baggage.size() <= prela::propagation_limits::baggage_entries);

  auto flow = prela::new_trace_context();  // each input starts from a clean context
  auto span = prela::get_tracer().span("server", prela::span_type::agent, remote);
  if (remote.trace_id.is_valid()) PRELA_FUZZ_CHECK(span->trace_id() == remote.trace_id);
  if (remote.is_valid()) PRELA_FUZZ_CHECK(span->parent_span_id() == remote.span_id);

  std::map<std::string, std::string> out;
  prela::inject(out);
  for (const auto& [name, value] : out) PRELA_FUZZ_CHECK(prela::fuzz::header_safe(value));
  const prela::remote_context back = prela::extract(out);
  PRELA_FUZZ_CHECK(back.is_valid());
  PRELA_FUZZ_CHECK(back.trace_id == span->trace_id() && back.span_id == span->span_id());
  PRELA_FUZZ_CHECK(back.sampled == span->is_sampled());
  PRELA_FUZZ_CHECK(back.trace_state == remote.trace_state);
  for (const auto& [key, value] : back.baggage) {
    PRELA_FUZZ_CHECK(remote.baggage.get(key) == value);
  }
  return 0;
}
