// What is known about exceptions: the one unwinding the stack (recorded by the opt-in
// throw hook, throw_hook.cpp), and caught ones. See exception_info.hpp.
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

void clear_thrown() noexcept { last_thrown = {}; }

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
  sdk_tls.eh_globals = g;
  return g;
}

exception_info in_flight_exception() {
  const thrown_record r = last_thrown;
  // The record is ours only if it was thrown at this unwinding depth (a nested throw
  // caught meanwhile, or std::rethrow_exception, would leave a stale record).
  if (r.object != nullptr && r.type != nullptr && r.depth + 1 == std::uncaught_exceptions()) {
    return describe_object(r.object, r.type);
  }
  return {"unknown", "exception thrown while the span was active (link prela::throw_hook to name it)"};
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
