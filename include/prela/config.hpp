// Build configuration: whether prela's instrumentation is compiled in.
#pragma once

/// 1 (the default): spans, context propagation and header injection work. 0: every
/// prela call compiles to a no-op (docs/configuration.md, "Turning instrumentation off
/// at compile time"). Set it through the CMake option PRELA_INSTRUMENTATION, which
/// builds the library the same way; a program whose code and library disagree fails to
/// link, naming prela::detail::library_built_with{,out}_instrumentation.
#ifndef PRELA_INSTRUMENTATION
#define PRELA_INSTRUMENTATION 1
#endif

namespace prela {

/// False in a build with PRELA_INSTRUMENTATION=0.
inline constexpr bool instrumented = PRELA_INSTRUMENTATION != 0;

namespace detail {
#if PRELA_INSTRUMENTATION
extern const char library_built_with_instrumentation;
[[gnu::used]] inline const char* const instrumentation_matches_library = &library_built_with_instrumentation;
#else
extern const char library_built_without_instrumentation;
[[gnu::used]] inline const char* const instrumentation_matches_library =
    &library_built_without_instrumentation;
#endif
}  // namespace detail

}  // namespace prela
