#pragma once

#define PRELA_VERSION_MAJOR 0
#define PRELA_VERSION_MINOR 1
#define PRELA_VERSION_PATCH 0

namespace prela {
inline constexpr const char* version = "0.1.0";
}
