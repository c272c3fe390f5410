// prela's locks around fork(): taken before it, so that the child's copies are free.
#pragma once

namespace prela::detail {

/// The thread registry (thread_registry.cpp).
void lock_threads_for_fork() noexcept;
void unlock_threads_after_fork() noexcept;
/// The diagnostic handler's state (diagnostics.cpp).
void lock_diagnostics_for_fork() noexcept;
void unlock_diagnostics_after_fork() noexcept;

}  // namespace prela::detail
