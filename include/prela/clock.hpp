// Span timestamps: wall-clock time derived from a monotonic base.
#pragma once

#include <chrono>

namespace prela {

/// Nanoseconds since the Unix epoch: the timestamps of spans and events. The wall
/// clock is read once per process; every later reading adds monotonic time, so
/// durations never go negative when NTP or an administrator moves the system clock.
/// On x86-64 with an invariant TSC the monotonic time comes from the time-stamp counter,
/// calibrated against CLOCK_MONOTONIC and re-calibrated every second (about 11 ns a
/// reading where clock_gettime costs 28); PRELA_CLOCK=system reads CLOCK_MONOTONIC
/// every time instead (docs/configuration.md).
std::chrono::nanoseconds now_since_epoch() noexcept;

}  // namespace prela
