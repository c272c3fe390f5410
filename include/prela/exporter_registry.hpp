// Exporters by name, for OTEL_TRACES_EXPORTER. The core registers "console"; the
// exporters library registers "otlp", "jsonl" and "perfetto".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "prela/exporter.hpp"

namespace prela {

/// Creates an exporter from the environment; returns null (after printing why) when it
/// cannot.
using exporter_factory = std::function<std::shared_ptr<exporter>()>;

void register_exporter_factory(std::string name, exporter_factory factory);
/// The factory's exporter, or null if the name is unknown.
std::shared_ptr<exporter> make_exporter(std::string_view name);
[[nodiscard]] bool has_exporter_factory(std::string_view name);

}  // namespace prela
