// Where prela's warnings go: misuse it detected, export failures, bad configuration.
#pragma once

#include <functional>
#include <string_view>

namespace prela {

/// Receives each warning prela emits, as one line without a trailing newline.
using diagnostic_handler = std::function<void(std::string_view message)>;

/// Sends every warning prela emits to `handler` instead of stderr (the default: one line
/// per message); an empty function restores the default. Messages are sanitized before
/// the handler sees them (control characters escaped, at most 2000 columns), and a
/// message repeated within 10 s of its last delivery is held back: the next delivery
/// after that says how many were. The handler runs on whichever thread warns (an export
/// thread, a thread ending a span, the thread calling init()), never under a lock of
/// prela's, and must not block for long; a warning it causes itself goes to stderr, and
/// what it throws is ignored. Safe to call at any time from any thread.
void set_diagnostic_handler(diagnostic_handler handler);

}  // namespace prela
