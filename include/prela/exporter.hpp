// The interface between the tracer and a backend.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>

#include "prela/span.hpp"

namespace prela {

enum class export_result { success, failure };

/// Receives ended, sampled spans in batches. Each exporter is called from its own
/// background thread, never concurrently with itself and never from the thread that
/// ended the span; a slow or failing exporter does not delay the application or the
/// other exporters.
class exporter {
 public:
  virtual ~exporter() = default;
  virtual export_result export_spans(std::span<const span_data> spans) = 0;
  /// Writes out anything buffered. Called by prela::force_flush and before shutdown.
  virtual bool force_flush(std::chrono::milliseconds /*timeout*/) { return true; }
  /// Last call the exporter receives.
  virtual bool shutdown(std::chrono::milliseconds /*timeout*/) { return true; }

 protected:
  /// Called from export_spans() when the receiver took the batch but rejected `spans`
  /// of it (OTLP partial success): with export_result::success, those are counted in
  /// tracer_stats::export_failures and the rest in exported.
  static void report_rejected(std::size_t spans) noexcept;
};

}  // namespace prela
