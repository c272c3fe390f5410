// Records each thrown exception (object and type, per thread) so that a span scope left
// by an exception can name it. Standard C++ gives a destructor no access to the
// exception that is unwinding the stack; the Itanium C++ ABI's __cxa_throw sees every
// `throw`, including those inside the standard library. This shim records the throw
// and forwards to the next definition (libstdc++'s, or a sanitizer's interceptor).
// Cost: one TLS store per throw. Disabled with -DPRELA_NO_THROW_HOOK=ON.
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
namespace {

struct thrown_record {
  void* object = nullptr;
  const std::type_info* type = nullptr;
  int depth = -1;  // std::uncaught_exceptions() when thrown
};

constinit thread_local thrown_record last_thrown{};

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
extern "C" {
// Declared with void* for the type so that this file does not clash with the
// compiler's built-in declaration; the ABI is the same.
[[noreturn]] void __cxa_throw(void* object, void* type, void (*destructor)(void*)) {
  using throw_fn = void (*)(void*, void*, void (*)(void*));
  static const throw_fn next = reinterpret_cast<throw_fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
  prela::detail::last_thrown = {object, static_cast<const std::type_info*>(type),
                                std::uncaught_exceptions()};
  if (next == nullptr) std::abort();  // no C++ runtime after us: cannot happen when linked
  next(object, type, destructor);
  __builtin_unreachable();
}
}
#else
namespace prela::detail {
// Without the hook, last_thrown stays empty and in_flight_exception() says "unknown".
}
#endif
