// RFC 9110 tokens (header names, baggage keys), checked with propagation.cpp's table.
#pragma once

#include <string_view>

namespace prela::detail {

/// True if `s` is a non-empty HTTP token: letters, digits and !#$%&'*+-.^_`|~.
bool is_http_token(std::string_view s) noexcept;

}  // namespace prela::detail
