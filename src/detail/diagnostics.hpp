// prela's warnings, delivered through the handler of set_diagnostic_handler().
#pragma once

#include <string_view>

namespace prela::detail {

/// Sanitizes, rate-limits and delivers one warning. Never throws, never blocks on the
/// handler of another thread.
void diagnose(std::string_view message) noexcept;

}  // namespace prela::detail
