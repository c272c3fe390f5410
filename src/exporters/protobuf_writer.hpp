// Writes the protocol buffers wire format into a std::string, for the one fixed schema
// prela writes (OTLP). The writer keeps its own end and grows the string ahead of it,
// so each field is a few stores instead of std::string appends. Nested messages are
// written in place: begin() leaves one byte for the length (begin_wide() two), end()
// fills it in and moves the body only when its length needs another number of bytes,
// so nothing is measured twice.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace prela::detail::pb {

enum class wire : std::uint8_t { varint = 0, fixed64 = 1, length = 2, fixed32 = 5 };

class writer {
 public:
  /// Appends to `out`; the string has its final size after finish().
  explicit writer(std::string& out) : out_(out) { rebase(out.size()); }
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() { finish(); }

  void finish() { out_.resize(used()); }

  void put_uint(std::uint32_t field, std::uint64_t v) {
    reserve(20);
    cur_ = varint_to(tag_to(cur_, field, wire::varint), v);
  }
  /// int64 fields: two's complement, ten bytes for a negative value (not zigzag).
  void put_int(std::uint32_t field, std::int64_t v) { put_uint(field, static_cast<std::uint64_t>(v)); }
  void put_fixed64(std::uint32_t field, std::uint64_t v) {
    reserve(18);
    char* p = tag_to(cur_, field, wire::fixed64);
    for (int i = 0; i < 8; ++i) {  // little-endian whatever the host
      p[i] = static_cast<char>(v >> (8 * i));
    }
    cur_ = p + 8;
  }
  void put_fixed32(std::uint32_t field, std::uint32_t v) {
    reserve(14);
    char* p = tag_to(cur_, field, wire::fixed32);
    for (int i = 0; i < 4; ++i) {
      p[i] = static_cast<char>(v >> (8 * i));
    }
    cur_ = p + 4;
  }
  void put_double(std::uint32_t field, double v) { put_fixed64(field, std::bit_cast<std::uint64_t>(v)); }
  /// bytes, or a string already known to be UTF-8.
  void put_bytes(std::uint32_t field, std::string_view v) {
    reserve(20 + v.size());
    cur_ = copy_to(varint_to(tag_to(cur_, field, wire::length), v.size()), v);
  }
  /// A string field: byte sequences that are not UTF-8 become U+FFFD (receivers reject
  /// a request whose strings are not UTF-8).
  void put_string(std::uint32_t field, std::string_view v) {
    if (ascii(v)) [[likely]] {
      put_bytes(field, v);
    } else {
      put_unicode(field, v);
    }
  }

  /// Starts a nested message; returns where its body starts, for end().
  std::size_t begin(std::uint32_t field) {
    reserve(12);
    char* p = tag_to(cur_, field, wire::length);
    *p++ = 0;
    cur_ = p;
    return used();
  }
  void end(std::size_t body) {
    const std::size_t length = used() - body;
    if (length < 0x80) [[likely]] {
      base_[body - 1] = static_cast<char>(length);
      return;
    }
    long_length(body, length, 1);
  }
  /// begin() for a message that is usually 128 bytes to 16 KiB long (a span): two
  /// bytes are left for the length, so end_wide() moves the body only outside that range.
  std::size_t begin_wide(std::uint32_t field) {
    reserve(12);
    char* p = tag_to(cur_, field, wire::length);
    p[0] = 0;
    p[1] = 0;
    cur_ = p + 2;
    return used();
  }
  void end_wide(std::size_t body) {
    const std::size_t length = used() - body;
    if (length >= 0x80 && length < 0x4000) [[likely]] {
      base_[body - 2] = static_cast<char>((length & 0x7F) | 0x80);
      base_[body - 1] = static_cast<char>(length >> 7);
      return;
    }
    long_length(body, length, 2);
  }

 private:
  // Every pointer is kept in a local while bytes are stored: a store through char*
  // may alias the writer's own members, which would otherwise be reloaded after each
  // byte.
  static char* varint_to(char* p, std::uint64_t v) noexcept {
    while (v >= 0x80) {
      *p++ = static_cast<char>(static_cast<std::uint8_t>(v) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    return p;
  }
  static char* tag_to(char* p, std::uint32_t field, wire type) noexcept {
    return varint_to(p, (static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint8_t>(type));
  }
  /// memcpy, without a library call for the short strings that make up most of a span.
  static char* copy_to(char* p, std::string_view v) noexcept {
    const char* s = v.data();
    const std::size_t n = v.size();
    if (n > 32) {
      std::memcpy(p, s, n);
    } else if (n >= 16) {  // two overlapping 16-byte copies
      char head[16];
      char tail[16];
      std::memcpy(head, s, 16);
      std::memcpy(tail, s + n - 16, 16);
      std::memcpy(p, head, 16);
      std::memcpy(p + n - 16, tail, 16);
    } else if (n >= 8) {
      std::uint64_t head;
      std::uint64_t tail;
      std::memcpy(&head, s, 8);
      std::memcpy(&tail, s + n - 8, 8);
      std::memcpy(p, &head, 8);
      std::memcpy(p + n - 8, &tail, 8);
    } else {
      for (std::size_t i = 0; i < n; ++i) p[i] = s[i];
    }
    return p + n;
  }
  static bool ascii(std::string_view v) noexcept {
    const char* s = v.data();
    const std::size_t n = v.size();
    std::uint64_t high = 0;
    if (n >= 8) {  // whole words, the last one overlapping
      std::uint64_t w;
      for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::memcpy(&w, s + i, 8);
        high |= w;
      }
      std::memcpy(&w, s + n - 8, 8);
      high |= w;
    } else if (n >= 4) {
      std::uint32_t head;
      std::uint32_t tail;
      std::memcpy(&head, s, 4);
      std::memcpy(&tail, s + n - 4, 4);
      high = head | tail;
    } else {
      for (std::size_t i = 0; i < n; ++i) high |= static_cast<unsigned char>(s[i]);
    }
    return (high & 0x8080808080808080ULL) == 0;
  }
  void put_unicode(std::uint32_t field, std::string_view v);  // otlp_protobuf.cpp
  // Writes the length of a body that starts at `body` with `room` bytes left before it,
  // moving the body when its length needs a different number of bytes.
  void long_length(std::size_t body, std::size_t length, std::size_t room);  // otlp_protobuf.cpp
  void grow(std::size_t n);                                    // otlp_protobuf.cpp

  std::size_t used() const noexcept { return static_cast<std::size_t>(cur_ - base_); }
  void reserve(std::size_t n) {
    if (static_cast<std::size_t>(limit_ - cur_) < n) [[unlikely]] grow(n);
  }
  void rebase(std::size_t used) noexcept {
    base_ = out_.data();
    cur_ = base_ + used;
    limit_ = base_ + out_.size();
  }

  std::string& out_;
  char* base_ = nullptr;
  char* cur_ = nullptr;
  char* limit_ = nullptr;
};

}  // namespace prela::detail::pb
