// tracer_options::from_env: the OpenTelemetry SDK environment variables, and the
// exporter registry behind OTEL_TRACES_EXPORTER. Part of the exporters library, since
// it names every built-in exporter (the core knows none of them).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "detail/diagnostics.hpp"
#include "detail/printable.hpp"
#include "detail/text.hpp"
#include "exporters/http_header.hpp"
#include "prela/exporter_registry.hpp"
#include "prela/exporters/console.hpp"
#include "prela/exporters/jsonl.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "prela/exporters/perfetto.hpp"
#include "prela/tracer.hpp"

namespace prela {
namespace {

std::mutex registry_mu;
std::shared_ptr<exporter> otlp_from_env();
std::shared_ptr<exporter> file_exporter_from_env(const char* name, const char* var, const char* fallback);

std::map<std::string, exporter_factory, std::less<>>& registry() {
  static std::map<std::string, exporter_factory, std::less<>> r{
      {"console", [] { return std::make_shared<console_exporter>(); }},
      {"otlp", [] { return otlp_from_env(); }},
      {"jsonl", [] { return file_exporter_from_env("jsonl", "PRELA_JSONL_PATH", "spans.jsonl"); }},
      {"perfetto", [] { return file_exporter_from_env("perfetto", "PRELA_PERFETTO_PATH", "trace.json"); }},
  };
  return r;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

/// trim(), as a string of its own.
std::string trimmed(std::string_view s) { return std::string(detail::trim(s)); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

// Names an entry of a list variable by its key only: values are often secrets (API
// keys in OTEL_EXPORTER_OTLP_HEADERS) and must not reach a log.
void warn_entry(const char* var, std::string_view entry, const char* why) {
  const auto eq = entry.find('=');
  const std::string shown = eq == std::string_view::npos ? detail::printable(entry, 200)
                                                         : detail::printable(entry.substr(0, eq), 200) + "=…";
  detail::diagnose(std::string("prela: ignoring the entry \"") + shown + "\" of " + var + " (" + why +
                   "); the other entries apply");
}

void warn(const char* var, const std::string& value, const std::string& fallback) {
  detail::diagnose(std::string("prela: ignoring ") + var + "=\"" + detail::printable(value, 200) +
                   "\" (invalid); using " + fallback);
}

// An integer variable within [min, max], or the default with a warning giving the range.
template <class T>
T env_count(const char* var, T fallback, unsigned long long min, unsigned long long max) {
  const auto v = env(var);
  if (!v) return fallback;
  const std::string s = trimmed(*v);
  unsigned long long parsed = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
  if (ec != std::errc() || end != s.data() + s.size() || parsed < min || parsed > max) {
    warn(var, *v,
         "the default " + std::to_string(fallback) + " (valid: " + std::to_string(min) + " to " +
             std::to_string(max) + ")");
    return fallback;
  }
  return static_cast<T>(parsed);
}

// Milliseconds within [min, limits::max_duration].
std::chrono::milliseconds env_millis(const char* var, std::chrono::milliseconds fallback, long long min) {
  return std::chrono::milliseconds(
      env_count<long long>(var, fallback.count(), static_cast<unsigned long long>(min),
                           static_cast<unsigned long long>(limits::max_duration.count())));
}

double env_ratio(const char* var, double fallback) {
  const auto v = env(var);
  if (!v) return fallback;
  char* end = nullptr;
  const std::string s = trimmed(*v);
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || s.empty() || !(d >= 0.0 && d <= 1.0)) {
    warn(var, *v, "the default " + std::to_string(fallback));
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
  warn("OTEL_TRACES_SAMPLER", name, "the default parentbased_always_on");
  return parent_based(always_on());
}

// "key1=value1,key2=value2" with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES,
// OTEL_EXPORTER_OTLP_HEADERS). A malformed entry (no '=', no key, a bad %-escape) is
// skipped with a warning naming it; the others are kept.
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

// An OTLP endpoint from the general variable: /v1/traces appended to the path, before
// any query or fragment.
std::string traces_endpoint(std::string base) {
  const auto tail_at = std::min(base.find('?'), base.find('#'));
  std::string tail = tail_at == std::string::npos ? std::string() : base.substr(tail_at);
  base.resize(std::min(tail_at, base.size()));
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/traces" + tail;
}

// The signal-specific variable wins over the general one.
std::optional<std::string> env_pair(const char* specific, const char* general, const char** used) {
  if (auto v = env(specific)) {
    *used = specific;
    return v;
  }
  *used = general;
  return env(general);
}

std::shared_ptr<exporter> otlp_from_env() {
  otlp_http_options o;
  const char* var = nullptr;
  if (auto v = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
    var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    o.endpoint = trimmed(*v);  // used as is
  } else if (auto base = env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
    var = "OTEL_EXPORTER_OTLP_ENDPOINT";
    o.endpoint = traces_endpoint(trimmed(*base));
  }
  const char* headers_var = nullptr;
  if (auto h = env_pair("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &headers_var)) {
    for (auto& [k, v] : key_value_list(headers_var, *h)) {
      if (!detail::valid_http_header(k, v)) {
        warn_entry(headers_var, k + "=" + v,
                   "not a valid HTTP header: the name must be a token, the value free of control characters");
        continue;
      }
      o.headers[k] = v;
    }
  }
  const char* timeout_var = nullptr;
  if (env_pair("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &timeout_var)) {
    o.timeout = env_millis(timeout_var, o.timeout, 1);
  }
  const char* protocol_var = nullptr;
  if (auto p = env_pair("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &protocol_var)) {
    const std::string v = lower(trimmed(*p));
    if (v == "http/json") {
      o.protocol = otlp_protocol::http_json;
    } else if (v == "grpc") {
      detail::diagnose(
          std::string("prela: ") + protocol_var +
          "=grpc is not supported (prela speaks OTLP over HTTP); using http/protobuf, which every "
          "Collector also receives, on port 4318");
    } else if (v != "http/protobuf") {
      warn(protocol_var, *p, "http/protobuf (the values are http/protobuf and http/json)");
    }
  }
  const char* compression_var = nullptr;
  if (auto c = env_pair("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION",
                        &compression_var)) {
    const std::string v = lower(trimmed(*c));
    if (v == "gzip") {
      o.compression = otlp_compression::gzip;
    } else if (v != "none" && !v.empty()) {
      warn(compression_var, *c, "none (the values are gzip and none)");
    }
  }
  const char* file_var = nullptr;
  if (auto f =
          env_pair("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE", &file_var)) {
    o.certificate_file = trimmed(*f);
  }
  if (auto f = env_pair("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &file_var)) {
    o.client_certificate_file = trimmed(*f);
  }
  if (auto f = env_pair("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY", &file_var)) {
    o.client_key_file = trimmed(*f);
  }
  try {
    return std::make_shared<otlp_http_exporter>(o);
  } catch (const std::invalid_argument& e) {
    if (o.endpoint.rfind("https://", 0) == 0 || !o.certificate_file.empty() ||
        !o.client_certificate_file.empty() || !o.client_key_file.empty()) {
      // TLS was asked for: never fall back to another trust store or to plain text.
      detail::diagnose(std::string(e.what()) + "; OTLP export is off");
      return nullptr;
    }
    const std::string fallback = otlp_http_options{}.endpoint;
    detail::diagnose(e.what());
    warn(var != nullptr ? var : "OTEL_EXPORTER_OTLP_ENDPOINT", o.endpoint, "the default " + fallback);
    o.endpoint = fallback;
    try {
      return std::make_shared<otlp_http_exporter>(o);
    } catch (const std::invalid_argument& again) {  // the headers
      detail::diagnose(std::string(again.what()) + "; OTLP export is off");
      return nullptr;
    }
  }
}

std::shared_ptr<exporter> file_exporter_from_env(const char* name, const char* var, const char* fallback) {
  const std::string path = trimmed(env(var).value_or(fallback));
  try {
    if (std::string_view(name) == "jsonl") return std::make_shared<jsonl_exporter>(path);
    return std::make_shared<perfetto_exporter>(path);
  } catch (const std::exception& e) {
    detail::diagnose(std::string(e.what()) + "; the " + name + " exporter is off (set " + var + ")");
    return nullptr;
  }
}

// OTEL_RESOURCE_ATTRIBUTES: "key1=value1,key2=value2", values percent-encoded.
attributes resource_from_env() {
  attributes out;
  if (const auto v = env("OTEL_RESOURCE_ATTRIBUTES")) {
    for (auto& [k, value] : key_value_list("OTEL_RESOURCE_ATTRIBUTES", *v)) out.push_back({k, value});
  }
  return out;
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
    warn("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", std::to_string(o.max_export_batch_size),
         "OTEL_BSP_MAX_QUEUE_SIZE (" + std::to_string(o.max_queue_size) +
             "), a batch cannot exceed the queue");
    o.max_export_batch_size = o.max_queue_size;
  }
  o.schedule_delay = env_millis("OTEL_BSP_SCHEDULE_DELAY", std::chrono::milliseconds(5000), 0);
  o.export_timeout = env_millis("OTEL_BSP_EXPORT_TIMEOUT", std::chrono::milliseconds(30000), 0);
  o.slow_span_threshold = env_millis("PRELA_SLOW_SPAN_THRESHOLD", std::chrono::milliseconds(0), 0);

  // Comma-separated list; "none" alone means no exporter.
  const std::string list = lower(env("OTEL_TRACES_EXPORTER").value_or("otlp"));
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string name = trimmed(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (name.empty() || name == "none") continue;
    if (!has_exporter_factory(name)) {
      warn("OTEL_TRACES_EXPORTER", name, "no exporter for it (known: otlp, console, jsonl, perfetto, none)");
      continue;
    }
    if (auto e = make_exporter(name)) o.exporters.push_back(std::move(e));
  }
  return o;
}

}  // namespace prela
