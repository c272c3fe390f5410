#include "prela/exporters/memory.hpp"

namespace prela {

export_result memory_exporter::export_spans(std::span<const span_data> spans) {
  std::lock_guard lock(mu_);
  spans_.insert(spans_.end(), spans.begin(), spans.end());
  return export_result::success;
}

std::vector<span_data> memory_exporter::spans() const {
  std::lock_guard lock(mu_);
  return spans_;
}

void memory_exporter::clear() {
  std::lock_guard lock(mu_);
  spans_.clear();
}

}  // namespace prela
