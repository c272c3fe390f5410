// Keeps exported spans in memory: for tests and for programs that inspect their traces.
#pragma once

#include <mutex>
#include <vector>

#include "prela/exporter.hpp"

namespace prela {

class memory_exporter final : public exporter {
 public:
  export_result export_spans(std::span<const span_data> spans) override;
  /// A copy of every span exported so far, in export order.
  [[nodiscard]] std::vector<span_data> spans() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<span_data> spans_;
};

}  // namespace prela
