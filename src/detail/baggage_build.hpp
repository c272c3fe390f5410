// Building baggage storage (detail::baggage_entries) and writing its W3C header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>

#include "prela/baggage.hpp"
#include "prela/propagation_formats.hpp"

#include "text.hpp"

namespace prela::detail {

/// One entry to copy into new baggage storage. `encoded` is what
/// baggage_entries::encoded_size() is to give for it, or -1: work it out.
struct baggage_source {
  std::string_view key;
  std::string_view value;
  std::int32_t encoded = -1;
};

struct baggage_builder {
  /// New storage holding copies of the `n` entries `source(i)` gives (a
  /// baggage_source each; called twice per entry), which are sorted by key with unique
  /// keys; nullptr when `n` is 0. Throws std::bad_alloc.
  template <class Source>
  static baggage_ref build(std::size_t n, Source&& source);
  static baggage_ref build(const baggage_source* entries, std::size_t n) {
    return build(n, [entries](std::size_t i) { return entries[i]; });
  }
};

/// The source for entry `i` of existing storage (its encoded size already known).
inline baggage_source source_of(const baggage_entries& e, std::size_t i) noexcept {
  const auto& [key, value] = e.begin()[i];
  return {key, value, e.encoded_size(i)};
}

/// How many characters `key=value` takes in a W3C baggage header, escapes included; 0
/// when it is not written: the key is not a token, or the member alone is longer than
/// the header may be. Defined in propagation.cpp, with the header's grammar.
std::uint16_t encoded_member_size(std::string_view key, std::string_view value) noexcept;

/// Which entries the W3C header holds, given each one's encoded size: in key order, up
/// to propagation_limits::baggage_entries of them, skipping any that would take the
/// header past propagation_limits::baggage_bytes (a smaller one after it may still
/// fit). Calls written(i, comma_before) for each and returns the header's length. The
/// builder sizes the header's room with it and the encoder writes with it, so the two
/// cannot disagree.
template <class Written>
std::size_t lay_out_header(const std::uint16_t* encoded, std::size_t n, Written&& written) {
  std::size_t length = 0;
  std::size_t members = 0;
  for (std::size_t i = 0; i < n && members < propagation_limits::baggage_entries; ++i) {
    if (encoded[i] == 0) continue;
    const std::size_t needed = (length == 0 ? 0 : 1) + encoded[i];
    if (length + needed > propagation_limits::baggage_bytes) continue;
    written(i, length != 0);
    length += needed;
    ++members;
  }
  return length;
}

// One allocation: the object, then the entries (views into the text), each entry's
// encoded size, the text, and the header's room.
template <class Source>
baggage_ref baggage_builder::build(std::size_t n, Source&& source) {
  if (n == 0) return {};
  using value_type = baggage_entries::value_type;
  static_assert(sizeof(baggage_entries) % alignof(value_type) == 0);
  // The encoded sizes are needed before the allocation (they size the header's room):
  // on the stack for the usual few entries.
  constexpr std::size_t on_stack = 64;
  std::uint16_t
      stack_sizes[on_stack];  // NOLINT(cppcoreguidelines-pro-type-member-init): [0, n) is written first
  std::unique_ptr<std::uint16_t[]> heap_sizes;
  if (n > on_stack) heap_sizes = std::make_unique_for_overwrite<std::uint16_t[]>(n);
  std::uint16_t* const encoded_sizes = n > on_stack ? heap_sizes.get() : stack_sizes;
  std::size_t text = 0;
  bool plain = true;  // every entry written as it is: a token key, nothing to escape
  for (std::size_t i = 0; i < n; ++i) {
    const baggage_source in = source(i);
    text += in.key.size() + in.value.size();
    encoded_sizes[i] =
        in.encoded >= 0 ? static_cast<std::uint16_t>(in.encoded) : encoded_member_size(in.key, in.value);
    plain = plain && encoded_sizes[i] == in.key.size() + 1 + in.value.size();
  }
  const std::size_t header = lay_out_header(encoded_sizes, n, [](std::size_t, bool) {});
  // When the header holds every entry as it is (the usual case, and always for what
  // extract() parsed without escapes), the text is laid out as the header itself,
  // "k1=v1,k2=v2", and the entries view into it: no room to fill at the first inject.
  const bool text_is_header = plain && header == text + 2 * n - 1;
  const std::size_t entries_at = sizeof(baggage_entries);
  const std::size_t encoded_at = entries_at + n * sizeof(value_type);
  const std::size_t text_at = encoded_at + n * sizeof(std::uint16_t);
  const std::size_t header_at = text_is_header ? text_at : text_at + text;
  char* const block = static_cast<char*>(::operator new(header_at + header));

  auto* e = new (block) baggage_entries();
  auto* entries = reinterpret_cast<value_type*>(block + entries_at);
  auto* encoded = reinterpret_cast<std::uint16_t*>(block + encoded_at);
  std::memcpy(encoded, encoded_sizes, n * sizeof(std::uint16_t));
  char* t = block + text_at;
  const auto copy = [&t](std::string_view s) {
    const std::string_view kept(t, s.size());
    t = copy_short(t, s.data(), s.size());
    return kept;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const baggage_source in = source(i);
    if (text_is_header && i != 0) *t++ = ',';
    const std::string_view key = copy(in.key);
    if (text_is_header) *t++ = '=';
    new (entries + i) value_type(key, copy(in.value));
  }
  e->size_ = static_cast<std::uint32_t>(n);
  e->header_size_ = static_cast<std::uint32_t>(header);
  e->encoded_ = encoded;
  e->header_ = block + header_at;
  if (text_is_header) e->header_state_.store(baggage_entries::header_ready, std::memory_order_relaxed);
  return baggage_ref::adopt(e);
}

/// Writes the W3C baggage header of `e` (e.header_size() characters) at `out`. Defined
/// in propagation.cpp.
void encode_baggage_header(const baggage_entries& e, char* out) noexcept;

}  // namespace prela::detail
