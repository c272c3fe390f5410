// The exporters library's part of tracer_options::from_env(): the factories behind
// OTEL_TRACES_EXPORTER=otlp, jsonl and perfetto, and the variables each reads.
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "detail/diagnostics.hpp"
#include "detail/env.hpp"
#include "exporters/http_header.hpp"
#include "prela/exporters/jsonl.hpp"
#include "prela/exporters/otlp_http.hpp"
#include "prela/exporters/perfetto.hpp"

namespace prela::detail {
namespace {

// An OTLP endpoint from the general variable: /v1/traces appended to the path, before
// any query or fragment.
std::string traces_endpoint(std::string base) {
  const auto tail_at = std::min(base.find('?'), base.find('#'));
  std::string tail = tail_at == std::string::npos ? std::string() : base.substr(tail_at);
  base.resize(std::min(tail_at, base.size()));
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/traces" + tail;
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
      if (!valid_http_header(k, v)) {
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
      diagnose(std::string("prela: ") + protocol_var +
               "=grpc is not supported (prela speaks OTLP over HTTP); using http/protobuf, which every "
               "Collector also receives, on port 4318");
    } else if (v != "http/protobuf") {
      warn_invalid(protocol_var, *p, "http/protobuf (the values are http/protobuf and http/json)");
    }
  }
  const char* compression_var = nullptr;
  if (auto c = env_pair("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION",
                        &compression_var)) {
    const std::string v = lower(trimmed(*c));
    if (v == "gzip") {
      o.compression = otlp_compression::gzip;
    } else if (v != "none" && !v.empty()) {
      warn_invalid(compression_var, *c, "none (the values are gzip and none)");
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
      diagnose(std::string(e.what()) + "; OTLP export is off");
      return nullptr;
    }
    const std::string fallback = otlp_http_options{}.endpoint;
    diagnose(e.what());
    warn_invalid(var != nullptr ? var : "OTEL_EXPORTER_OTLP_ENDPOINT", o.endpoint, "the default " + fallback);
    o.endpoint = fallback;
    try {
      return std::make_shared<otlp_http_exporter>(o);
    } catch (const std::invalid_argument& again) {  // the headers
      diagnose(std::string(again.what()) + "; OTLP export is off");
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
    diagnose(std::string(e.what()) + "; the " + name + " exporter is off (set " + var + ")");
    return nullptr;
  }
}

}  // namespace
}  // namespace prela::detail

extern "C" void prela_add_library_exporters(prela::detail::exporter_factories& factories) {
  using prela::detail::file_exporter_from_env;
  factories.emplace("otlp", [] { return prela::detail::otlp_from_env(); });
  factories.emplace("jsonl",
                    [] { return file_exporter_from_env("jsonl", "PRELA_JSONL_PATH", "spans.jsonl"); });
  factories.emplace("perfetto",
                    [] { return file_exporter_from_env("perfetto", "PRELA_PERFETTO_PATH", "trace.json"); });
}
