// Span timestamps: wall-clock time derived from a monotonic base.
#pragma once

#include <chrono>

namespace prela {

/// Nanoseconds since the Unix epoch. The wall clock is read once per process; every
/// later reading adds a monotonic delta, so durations never go negative when NTP or an
/// administrator moves the system clock.
std::chrono::nanoseconds now_since_epoch() noexcept;

}  // namespace prela
