// OTLP/HTTP, protobuf or JSON: spans to an OpenTelemetry Collector (and from there to
// Jaeger, Tempo or any vendor). See docs/exporters.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "prela/exporter.hpp"

namespace prela {

/// The body's encoding (`OTEL_EXPORTER_OTLP_PROTOCOL`).
enum class otlp_protocol {
  http_protobuf,  ///< `application/x-protobuf`, the OpenTelemetry default
  http_json,      ///< `application/json`, the OTLP JSON encoding
};

/// The body's compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
enum class otlp_compression { none, gzip };

struct otlp_http_options {
  /// Where to POST, used as is: `http://` or `https://` (TLS 1.2 or later, the server's
  /// certificate verified against `certificate_file` or the system trust store, and
  /// its name against the endpoint's host).
  std::string endpoint = "http://localhost:4318/v1/traces";
  /// Sent with every request (e.g. an API key). Names must be HTTP tokens, values free
  /// of control characters.
  std::map<std::string, std::string> headers;
  /// The whole export of one batch, retries included (1 ms to a day). A batch that has
  /// not been delivered by then is dropped and counted.
  std::chrono::milliseconds timeout{10000};
  /// Backoff between attempts: doubles from `initial_backoff` up to `max_backoff`, each
  /// wait randomized to between half and all of it; a `Retry-After` answer is honoured.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{5000};
  otlp_protocol protocol = otlp_protocol::http_protobuf;
  /// gzip: `Content-Encoding: gzip`, level 6 (about 5x smaller for typical spans).
  otlp_compression compression = otlp_compression::none;
  /// For https: PEM CA certificates to verify the server with; the system trust store
  /// when empty.
  std::filesystem::path certificate_file;
  /// For https with client authentication (mTLS): PEM certificate chain and private key,
  /// both or neither.
  std::filesystem::path client_certificate_file;
  std::filesystem::path client_key_file;
};

/// What one OTLP exporter did since it was created.
struct otlp_http_stats {
  std::uint64_t requests = 0;        ///< HTTP requests sent (retries included)
  std::uint64_t retries = 0;         ///< attempts after a retryable failure
  std::uint64_t exported_spans = 0;  ///< spans the collector accepted (2xx)
  std::uint64_t failed_batches = 0;  ///< batches given up on (timeout, non-retryable answer)
  std::uint64_t dropped_spans = 0;   ///< spans in those batches
  std::uint64_t rejected_spans = 0;  ///< spans a 2xx partial-success answer said it rejected
  std::uint64_t bytes_sent = 0;      ///< request bodies as sent (compressed), retries included
};

/// POSTs each batch as an ExportTraceServiceRequest (protobuf or JSON, optionally
/// gzip-compressed), on a keep-alive
/// connection. Retries on 429, 502, 503, 504 and connection failures with exponential
/// backoff and jitter within `timeout`; other answers fail the batch at once. Failures
/// are reported through the diagnostic handler (prela/diagnostics.hpp; stderr by
/// default) once per change of state (failing / delivering again), never per batch; a
/// receiver's answer is quoted escaped. Thread: the processor's lane for this exporter; nothing else blocks.
class otlp_http_exporter final : public exporter {
 public:
  /// Throws std::invalid_argument for an endpoint that is not an `http://` or
  /// `https://` URL, a timeout outside 1 ms to a day, a max_backoff over a day, an
  /// invalid header, or (https) a CA, client certificate or key file that cannot be
  /// loaded, or only one of the client certificate and key.
  explicit otlp_http_exporter(otlp_http_options options = {});
  ~otlp_http_exporter() override;

  export_result export_spans(std::span<const span_data> spans) override;
  bool shutdown(std::chrono::milliseconds timeout) override;

  [[nodiscard]] otlp_http_stats stats() const noexcept;
  [[nodiscard]] const otlp_http_options& options() const noexcept { return options_; }

 private:
  struct connection;
  otlp_http_options options_;
  std::unique_ptr<connection> conn_;
};

namespace otlp {

/// OTLP span kinds (opentelemetry.proto.trace.v1.Span.SpanKind).
enum class span_kind : int { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

/// The kind prela reports: a span continuing a remote parent is SERVER; llm, retrieval
/// and embedding spans call out to a model or a store, so CLIENT; the rest INTERNAL.
span_kind kind_of(const span_data& span) noexcept;

/// The OpenTelemetry GenAI `gen_ai.operation.name` for a span type, or empty.
std::string_view gen_ai_operation(span_type type) noexcept;

/// Appends the ExportTraceServiceRequest for `spans` in the OTLP JSON encoding
/// (resourceSpans grouped by resource, scope "prela" with the library version).
void encode_json(std::span<const span_data> spans, std::string& out);

/// Appends the same ExportTraceServiceRequest in the protobuf wire format (what
/// `otlp_protocol::http_protobuf` sends): the same resources, scope, spans and fields.
void encode_protobuf(std::span<const span_data> spans, std::string& out);

}  // namespace otlp

}  // namespace prela
