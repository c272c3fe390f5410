// prela::throw_hook, opt in: records the exception that is unwinding the stack (object
// and type, per thread) so that a span scope left by an exception can name it. Standard
// C++ gives a destructor no access to that exception before it is caught. The Itanium
// C++ ABI entry points see it go by:
//   __cxa_throw              `throw expr`, including inside the standard library
//   __cxa_rethrow            `throw;`
//   std::rethrow_exception   how coroutines (Asio's among them) propagate exceptions
//   __cxa_begin_catch        the exception is caught: the record is dropped, so it can
//                            never point at an exception object that has been freed
// Each shim records or clears, then forwards to the next definition (libstdc++'s, or a
// sanitizer's interceptor). Cost: a TLS store per throw and per catch. These replace the
// C++ runtime's entry points for the whole process, which no program should get by
// surprise: they are linked only into programs that link prela::throw_hook.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <typeinfo>

#include <cxxabi.h>

#include "detail/exception_info.hpp"

namespace {
template <class F>
F next_definition(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) std::abort();  // no C++ runtime after us: cannot happen when linked
  return reinterpret_cast<F>(f);
}

// The object an exception_ptr refers to (libstdc++ keeps exactly that pointer).
void* object_of(const std::exception_ptr& p) noexcept {
  static_assert(sizeof(std::exception_ptr) == sizeof(void*));
  void* object = nullptr;
  std::memcpy(&object, &p, sizeof object);
  return object;
}
}  // namespace

// The definitions repeat the runtime's declarations as each compiler sees them: g++
// has a built-in __cxa_throw taking void* for the type; clang takes <cxxabi.h>'s, whose
// first declaration it requires to be the only one carrying [[noreturn]]. Same ABI.
#if defined(__clang__)
#define PRELA_CXA_NORETURN
using prela_cxa_type = std::type_info;
#else
#define PRELA_CXA_NORETURN [[noreturn]]
using prela_cxa_type = void;
#endif

extern "C" {
PRELA_CXA_NORETURN void __cxa_throw(void* object, prela_cxa_type* type, void (*destructor)(void*)) {
  using fn = void (*)(void*, prela_cxa_type*, void (*)(void*));
  static const fn next = next_definition<fn>("__cxa_throw");
  prela::detail::record(object, static_cast<const std::type_info*>(type));
  next(object, type, destructor);
  __builtin_unreachable();
}

PRELA_CXA_NORETURN void __cxa_rethrow() {
  using fn = void (*)();
  static const fn next = next_definition<fn>("__cxa_rethrow");
  const std::exception_ptr current = std::current_exception();
  prela::detail::record(object_of(current), abi::__cxa_current_exception_type());
  next();
  __builtin_unreachable();
}

void* __cxa_begin_catch(void* exception_header) noexcept {
  using fn = void* (*)(void*) noexcept;
  static const fn next = next_definition<fn>("__cxa_begin_catch");
  prela::detail::clear_thrown();
  return next(exception_header);
}
}

namespace std {
// Interposes libstdc++'s definition (same signature and mangled name).
PRELA_CXA_NORETURN void rethrow_exception(exception_ptr p) {
  using fn = void (*)(exception_ptr);
  static const fn next = next_definition<fn>("_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE");
  prela::detail::record(object_of(p), p.__cxa_exception_type());
  next(std::move(p));
  __builtin_unreachable();
}
}  // namespace std
