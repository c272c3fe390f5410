// Exporters by name, for OTEL_TRACES_EXPORTER (tracer_options::from_env()): "console"
// is registered by the core, "otlp", "jsonl" and "perfetto" by the exporters library
// (prela::exporters, part of prela::prela) in every program that links it, and an
// application may add its own.
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
