// The exporter the span benchmarks and instruction_probe export to: it accepts every
// batch and does nothing, so that they measure prela and not a backend.
#pragma once

#include <span>

#include "prela/exporter.hpp"

namespace prela::bench {

struct null_exporter final : prela::exporter {
  prela::export_result export_spans(std::span<const prela::span_data> /*spans*/) override {
    return prela::export_result::success;
  }
};

}  // namespace prela::bench
