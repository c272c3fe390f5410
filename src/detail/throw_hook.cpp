// Records the exception that is unwinding the stack (object and type, per thread) so
// that a span scope left by an exception can name it. Standard C++ gives a destructor
// no access to that exception. The Itanium C++ ABI entry points see it go by:
//   __cxa_throw              `throw expr`, including inside the standard library
//   __cxa_rethrow            `throw;`
//   std::rethrow_exception   how coroutines (Asio's among them) propagate exceptions
//   __cxa_begin_catch        the exception is caught: the record is dropped, so it can
//                            never point at an exception object that has been freed
// Each shim records or clears, then forwards to the next definition (libstdc++'s, or a
// sanitizer's interceptor). Cost: a TLS store per throw and per catch.
// Disabled with -DPRELA_NO_THROW_HOOK=ON (scopes then report error.type "unknown").
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <typeinfo>

#include <cxxabi.h>

#include "detail/exception_info.hpp"

namespace prela::detail {

struct thrown_record {
  void* object = nullptr;
  const std::type_info* type = nullptr;
  int depth = -1;  // std::uncaught_exceptions() when thrown
};

constinit thread_local thrown_record last_thrown{};

void record(void* object, const std::type_info* type) noexcept {
  last_thrown = {object, type, std::uncaught_exceptions()};
}

namespace {

exception_info describe_object(void* object, const std::type_info* type) {
  exception_info info{demangle(type->name()), {}};
  // Ask the runtime whether a handler for std::exception would catch this object, the
  // same question the unwinder asks; it also adjusts the pointer to the base.
  void* adjusted = object;
  if (typeid(std::exception).__do_catch(type, &adjusted, 1)) {
    info.message = static_cast<const std::exception*>(adjusted)->what();
  }
  return info;
}

}  // namespace

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

const cxa_eh_globals* lookup_eh_globals() noexcept {
  const auto* g = reinterpret_cast<const cxa_eh_globals*>(abi::__cxa_get_globals());
  tls.eh_globals = g;
  return g;
}

exception_info in_flight_exception() {
  const thrown_record r = last_thrown;
  // The record is ours only if it was thrown at this unwinding depth (a nested throw
  // caught meanwhile, or std::rethrow_exception, would leave a stale record).
  if (r.object != nullptr && r.type != nullptr && r.depth + 1 == std::uncaught_exceptions()) {
    return describe_object(r.object, r.type);
  }
  return {"unknown", "exception thrown while the span was active"};
}

exception_info describe(const std::exception_ptr& e) {
  if (!e) return {"unknown", {}};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return {demangle(typeid(ex).name()), ex.what()};
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return {t != nullptr ? demangle(t->name()) : std::string("unknown"), {}};
  }
}

}  // namespace prela::detail

#if !defined(PRELA_NO_THROW_HOOK)
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
  prela::detail::last_thrown = {};
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
#endif
