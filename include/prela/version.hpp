// prela's version: the one place it is written (CMakeLists.txt reads it from here).
#pragma once

#define PRELA_VERSION_MAJOR 0
#define PRELA_VERSION_MINOR 1
#define PRELA_VERSION_PATCH 0

#define PRELA_VERSION_STRINGIFY_(x) #x
#define PRELA_VERSION_STRING_(major, minor, patch) \
  PRELA_VERSION_STRINGIFY_(major) "." PRELA_VERSION_STRINGIFY_(minor) "." PRELA_VERSION_STRINGIFY_(patch)

namespace prela {
/// "major.minor.patch", as in telemetry.sdk.version and the OTLP scope.
inline constexpr const char* version =
    PRELA_VERSION_STRING_(PRELA_VERSION_MAJOR, PRELA_VERSION_MINOR, PRELA_VERSION_PATCH);
}  // namespace prela
