// Reading environment variables for tracer_options::from_env() (src/options.cpp) and the
// exporters' own variables (src/exporters/env_exporters.cpp): a value that is set but
// invalid is ignored with one warning naming the variable and what is used instead.
#pragma once

#include <charconv>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "prela/exporter_registry.hpp"

namespace prela::detail {

/// The variable's value, or nothing when it is unset or empty.
std::optional<std::string> env(const char* name);
/// The signal-specific variable wins over the general one; `used` names the one read.
std::optional<std::string> env_pair(const char* specific, const char* general, const char** used);

std::string trimmed(std::string_view s);
std::string lower(std::string s);

/// "prela: ignoring VAR="value" (invalid); using <fallback>".
void warn_invalid(const char* var, const std::string& value, const std::string& fallback);
/// Names an entry of a list variable by its key only: values are often secrets (API
/// keys in OTEL_EXPORTER_OTLP_HEADERS) and must not reach a log.
void warn_entry(const char* var, std::string_view entry, const char* why);

/// An integer variable within [min, max], or the default with a warning giving the range.
template <class T>
T env_count(const char* var, T fallback, unsigned long long min, unsigned long long max) {
  const auto v = env(var);
  if (!v) return fallback;
  const std::string s = trimmed(*v);
  unsigned long long parsed = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
  if (ec != std::errc() || end != s.data() + s.size() || parsed < min || parsed > max) {
    warn_invalid(var, *v,
                 "the default " + std::to_string(fallback) + " (valid: " + std::to_string(min) + " to " +
                     std::to_string(max) + ")");
    return fallback;
  }
  return static_cast<T>(parsed);
}

/// Milliseconds within [min, limits::max_duration].
std::chrono::milliseconds env_millis(const char* var, std::chrono::milliseconds fallback, long long min);

/// "key1=value1,key2=value2" with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES,
/// OTEL_EXPORTER_OTLP_HEADERS). A malformed entry (no '=', no key, a bad %-escape) is
/// skipped with a warning naming it; the others are kept.
std::vector<std::pair<std::string, std::string>> key_value_list(const char* var, const std::string& list);

/// The exporter registry's table: name -> factory.
using exporter_factories = std::map<std::string, exporter_factory, std::less<>>;

}  // namespace prela::detail

/// Adds the exporters library's factories (otlp, jsonl, perfetto) to the registry.
/// Defined in prela::exporters, whose CMake target makes every program that links it
/// keep the definition (the link option --undefined names it); referenced weakly by the
/// core, so a program with the core alone has only the core's exporters.
extern "C" void prela_add_library_exporters(prela::detail::exporter_factories& factories);
