// What is known about the exception currently unwinding the stack.
#pragma once

#include <string>

namespace prela::detail {

struct exception_info {
  std::string type;     // demangled dynamic type, "unknown" when it cannot be known
  std::string message;  // what() for std::exception, empty otherwise
};

/// Describes the exception in flight, for a destructor that runs during unwinding.
/// Standard C++ offers no access to it before it is caught, so prela records every
/// throw (type and object, per thread) in a shim around the C++ runtime's
/// __cxa_throw; this reads that record back when it matches the unwinding depth.
exception_info in_flight_exception();

/// Describes a caught exception.
exception_info describe(const std::exception_ptr& e);

/// Demangled name of a type_info name.
std::string demangle(const char* mangled);

}  // namespace prela::detail
