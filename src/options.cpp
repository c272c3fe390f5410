// tracer_options::from_env: the OpenTelemetry SDK environment variables, and the
// exporter registry behind OTEL_TRACES_EXPORTER. Part of the core, which registers its
// console exporter; the exporters library adds otlp, jsonl and perfetto
// (src/exporters/env_exporters.cpp) when the program links it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "detail/diagnostics.hpp"
#include "detail/env.hpp"
#include "detail/printable.hpp"
#include "detail/text.hpp"
#include "prela/exporter_registry.hpp"
#include "prela/exporters/console.hpp"
#include "prela/tracer.hpp"

// Weak: null when the program does not link the exporters library.
extern "C" [[gnu::weak]] void prela_add_library_exporters(prela::detail::exporter_factories& factories);

namespace prela {
namespace detail {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::optional<std::string> env_pair(const char* specific, const char* general, const char** used) {
  if (auto v = env(specific)) {
    *used = specific;
    return v;
  }
  *used = general;
  return env(general);
}

std::string trimmed(std::string_view s) { return std::string(trim(s)); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

void warn_entry(const char* var, std::string_view entry, const char* why) {
  const auto eq = entry.find('=');
  const std::string shown = eq == std::string_view::npos ? detail::printable(entry, 200)
                                                         : detail::printable(entry.substr(0, eq), 200) + "=…";
  detail::diagnose(std::string("prela: ignoring the entry \"") + shown + "\" of " + var + " (" + why +
                   "); the other entries apply");
}

void warn_invalid(const char* var, const std::string& value, const std::string& fallback) {
  detail::diagnose(std::string("prela: ignoring ") + var + "=\"" + detail::printable(value, 200) +
                   "\" (invalid); using " + fallback);
}

std::chrono::milliseconds env_millis(const char* var, std::chrono::milliseconds fallback, long long min) {
  return std::chrono::milliseconds(
      env_count<long long>(var, fallback.count(), static_cast<unsigned long long>(min),
                           static_cast<unsigned long long>(limits::max_duration.count())));
}

std::vector<std::pair<std::string, std::string>> key_value_list(const char* var, const std::string& list) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (detail::trim(item).empty()) continue;
    const auto eq = item.find('=');
    const std::string key = trimmed(item.substr(0, eq));
    if (eq == std::string_view::npos || key.empty()) {
      warn_entry(var, item, "not key=value");
      continue;
    }
    std::string value;
    if (!detail::percent_decode(detail::trim(item.substr(eq + 1)), value)) {
      warn_entry(var, item, "a '%' not followed by two hex digits");
      continue;
    }
    out.emplace_back(key, std::move(value));
  }
  return out;
}

}  // namespace detail

namespace {
using detail::env;
using detail::env_count;
using detail::env_millis;
using detail::key_value_list;
using detail::lower;
using detail::trimmed;
using detail::warn_invalid;

double env_ratio(const char* var, double fallback) {
  const auto v = env(var);
  if (!v) return fallback;
  char* end = nullptr;
  const std::string s = trimmed(*v);
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || s.empty() || !(d >= 0.0 && d <= 1.0)) {
    warn_invalid(var, *v, "the default " + std::to_string(fallback));
    return fallback;
  }
  return d;
}

std::shared_ptr<sampler> sampler_from_env() {
  const std::string name = lower(trimmed(env("OTEL_TRACES_SAMPLER").value_or("parentbased_always_on")));
  const auto ratio = [] { return env_ratio("OTEL_TRACES_SAMPLER_ARG", 1.0); };
  if (name == "always_on") return always_on();
  if (name == "always_off") return always_off();
  if (name == "traceidratio") return probability(ratio());
  if (name == "parentbased_always_on") return parent_based(always_on());
  if (name == "parentbased_always_off") return parent_based(always_off());
  if (name == "parentbased_traceidratio") return parent_based(probability(ratio()));
  warn_invalid("OTEL_TRACES_SAMPLER", name, "the default parentbased_always_on");
  return parent_based(always_on());
}

// OTEL_RESOURCE_ATTRIBUTES: "key1=value1,key2=value2", values percent-encoded.
attributes resource_from_env() {
  attributes out;
  if (const auto v = env("OTEL_RESOURCE_ATTRIBUTES")) {
    for (auto& [k, value] : key_value_list("OTEL_RESOURCE_ATTRIBUTES", *v)) out.push_back({k, value});
  }
  return out;
}

std::mutex registry_mu;

// The core's console exporter, and the exporters library's when the program links it.
detail::exporter_factories& registry() {
  static detail::exporter_factories r = [] {
    detail::exporter_factories f{{"console", [] { return std::make_shared<console_exporter>(); }}};
    if (prela_add_library_exporters != nullptr) prela_add_library_exporters(f);
    return f;
  }();
  return r;
}

// The built-in exporters that live in the exporters library.
bool in_exporters_library(std::string_view name) {
  return name == "otlp" || name == "jsonl" || name == "perfetto";
}

std::string known_exporters() {
  std::string known;
  std::lock_guard lock(registry_mu);
  for (const auto& [name, factory] : registry()) known += name + ", ";
  return known + "none";
}

}  // namespace

void register_exporter_factory(std::string name, exporter_factory factory) {
  std::lock_guard lock(registry_mu);
  registry()[std::move(name)] = std::move(factory);
}

std::shared_ptr<exporter> make_exporter(std::string_view name) {
  exporter_factory f;
  {
    std::lock_guard lock(registry_mu);
    const auto it = registry().find(name);
    if (it == registry().end()) return nullptr;
    f = it->second;
  }
  return f();
}

bool has_exporter_factory(std::string_view name) {
  std::lock_guard lock(registry_mu);
  return registry().find(name) != registry().end();
}

tracer_options tracer_options::from_env() {
  tracer_options o;
  o.resource_attributes = resource_from_env();
  o.service_name = env("OTEL_SERVICE_NAME").value_or("");
  if (o.service_name.empty()) {
    for (const auto& a : o.resource_attributes) {
      if (a.key == "service.name") o.service_name = to_string(a.value);
    }
  }
  o.sampler = sampler_from_env();
  o.max_queue_size = env_count<std::size_t>("OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, limits::max_queue_size);
  o.max_export_batch_size =
      env_count<std::size_t>("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, limits::max_queue_size);
  if (o.max_export_batch_size > o.max_queue_size) {
    warn_invalid("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", std::to_string(o.max_export_batch_size),
                 "OTEL_BSP_MAX_QUEUE_SIZE (" + std::to_string(o.max_queue_size) +
                     "), a batch cannot exceed the queue");
    o.max_export_batch_size = o.max_queue_size;
  }
  o.schedule_delay = env_millis("OTEL_BSP_SCHEDULE_DELAY", std::chrono::milliseconds(5000), 0);
  o.export_timeout = env_millis("OTEL_BSP_EXPORT_TIMEOUT", std::chrono::milliseconds(30000), 0);
  o.slow_span_threshold = env_millis("PRELA_SLOW_SPAN_THRESHOLD", std::chrono::milliseconds(0), 0);

  // Comma-separated list; "none" alone means no exporter.
  const auto set = env("OTEL_TRACES_EXPORTER");
  const std::string list = lower(set.value_or("otlp"));
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string name = trimmed(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (name.empty() || name == "none") continue;
    if (!has_exporter_factory(name)) {
      if (in_exporters_library(name)) {
        detail::diagnose(
            std::string("prela: ") +
            (set ? "OTEL_TRACES_EXPORTER names " + name
                 : "OTEL_TRACES_EXPORTER is unset and defaults to " + name) +
            ", which is in prela::exporters; this program links prela::core alone, so " + name +
            " is off (link prela::prela, or set OTEL_TRACES_EXPORTER to one of: " + known_exporters() + ")");
      } else {
        warn_invalid("OTEL_TRACES_EXPORTER", name, "no exporter for it (known: " + known_exporters() + ")");
      }
      continue;
    }
    if (auto e = make_exporter(name)) o.exporters.push_back(std::move(e));
  }
  return o;
}

}  // namespace prela
