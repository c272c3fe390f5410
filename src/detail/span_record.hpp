// An ended span as the batch processor queues it: one compact record of bytes, written
// by the thread that ends the span and turned into a span_data on the export side.
//
// Why bytes and not span_data: a span_data is four cache lines plus a vector and
// strings on the heap, and a record the export side has touched comes back to the
// ending thread's core line by line when it is written again. A plain span's record is
// 80 bytes plus its name, written front to back; performance.md has the measurements.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "prela/attributes.hpp"
#include "prela/ids.hpp"
#include "prela/span.hpp"

namespace prela::detail {

/// What an ended span hands to its processor: the span's fields, read while the record
/// is written. The span is ended, so nothing changes them meanwhile.
struct span_view {
  std::string_view name;
  std::string_view trace_state;
  std::string_view status_message;
  const prela::attributes* attributes = nullptr;
  const std::vector<span_event>* events = nullptr;
  prela::trace_id trace_id;
  prela::span_id span_id;
  prela::span_id parent_span_id;
  std::chrono::nanoseconds start_time{};
  std::chrono::nanoseconds end_time{};
  std::uint32_t dropped_attributes = 0;
  std::uint32_t dropped_events = 0;
  span_type type = span_type::custom;
  span_status status = span_status::unset;
  std::uint8_t trace_flags = 0;
  bool parent_is_remote = false;
};

/// The bytes `encode_record` writes for this span.
[[nodiscard]] std::size_t record_size(const span_view& s) noexcept;

/// Writes the span's record, exactly `record_size(s)` bytes, at `out`.
void encode_record(const span_view& s, std::byte* out) noexcept;

/// Reads the record at `in` into `out`, reusing its strings' and vectors' buffers;
/// every field but `resource` is set. Returns the first byte past the record. Throws
/// std::bad_alloc when a buffer cannot grow; `out` is then partly written.
const std::byte* decode_record(const std::byte* in, span_data& out);

}  // namespace prela::detail
