// What is known about the exception currently unwinding the stack.
#pragma once

#include <string>
#include <typeinfo>

#include "detail/sdk_thread_state.hpp"

namespace prela::detail {

/// The C++ runtime's per-thread exception globals, as the Itanium C++ ABI (§2.2.2.1)
/// lays them out; libstdc++ and libc++abi both follow it.
struct cxa_eh_globals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};
const cxa_eh_globals* lookup_eh_globals() noexcept;

/// std::uncaught_exceptions(), without its cost: libstdc++ reaches its thread-local
/// globals through __tls_get_addr on every call (43 instructions for the two calls a
/// span scope makes). The globals' address is fixed for a thread's life, so it is
/// looked up once and kept in prela's own thread state (sdk_thread_state).
inline int uncaught_exceptions() noexcept {
  const void* g = sdk_tls.eh_globals;
  if (g == nullptr) [[unlikely]]
    g = lookup_eh_globals();
  return static_cast<int>(static_cast<const cxa_eh_globals*>(g)->uncaught_exceptions);
}

struct exception_info {
  std::string type;     // demangled dynamic type, "unknown" when it cannot be known
  std::string message;  // what() for std::exception, empty otherwise
};

/// Describes the exception in flight, for a destructor that runs during unwinding.
/// Standard C++ offers no access to it before it is caught; a program that links
/// prela::throw_hook records every throw (type and object, per thread) in a shim around
/// the C++ runtime's __cxa_throw, and this reads that record back when it matches the
/// unwinding depth. Without the hook: type "unknown".
exception_info in_flight_exception();

/// Called by the throw hook: an exception object of `type` is being thrown, or dropped.
void record(void* object, const std::type_info* type) noexcept;
void clear_thrown() noexcept;

/// Describes a caught exception.
exception_info describe(const std::exception_ptr& e);

/// Demangled name of a type_info name.
std::string demangle(const char* mangled);

}  // namespace prela::detail
