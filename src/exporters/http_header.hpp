// What the OTLP exporter accepts as an HTTP header (its options, OTEL_EXPORTER_OTLP_HEADERS).
#pragma once

#include <string_view>

namespace prela::detail {

/// True if `name` is an HTTP token (RFC 9110: letters, digits and !#$%&'*+-.^_`|~) and
/// `value` has no control characters (CR, LF, NUL, DEL, ...).
bool valid_http_header(std::string_view name, std::string_view value) noexcept;

}  // namespace prela::detail
