// Writes the protocol buffers wire format into a std::string, for the one fixed schema
// prela writes (OTLP). The writer keeps its own end and grows the string ahead of it,
// so each field is a few stores instead of std::string appends. Nested messages are
// written in place: begin() leaves one byte for the length, end() fills it in and, for
// a body of 128 bytes or more, moves that body up by the extra length bytes, so
// nothing is measured twice.
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
  explicit writer(std::string& out) : out_(out), end_(out.size()) {}
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() { finish(); }

  void finish() { out_.resize(end_); }

  void put_uint(std::uint32_t field, std::uint64_t v) {
    reserve(20);
    tag(field, wire::varint);
    varint(v);
  }
  /// int64 fields: two's complement, ten bytes for a negative value (not zigzag).
  void put_int(std::uint32_t field, std::int64_t v) { put_uint(field, static_cast<std::uint64_t>(v)); }
  void put_fixed64(std::uint32_t field, std::uint64_t v) {
    reserve(18);
    tag(field, wire::fixed64);
    for (int i = 0; i < 8; ++i) {  // little-endian whatever the host
      at()[0] = static_cast<char>(v & 0xFF);
      ++end_;
      v >>= 8;
    }
  }
  void put_fixed32(std::uint32_t field, std::uint32_t v) {
    reserve(14);
    tag(field, wire::fixed32);
    for (int i = 0; i < 4; ++i) {
      at()[0] = static_cast<char>(v & 0xFF);
      ++end_;
      v >>= 8;
    }
  }
  void put_double(std::uint32_t field, double v) { put_fixed64(field, std::bit_cast<std::uint64_t>(v)); }
  /// bytes, or a string already known to be UTF-8.
  void put_bytes(std::uint32_t field, std::string_view v) {
    reserve(20 + v.size());
    tag(field, wire::length);
    varint(v.size());
    std::memcpy(at(), v.data(), v.size());
    end_ += v.size();
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
    tag(field, wire::length);
    at()[0] = 0;
    ++end_;
    return end_;
  }
  void end(std::size_t body) {
    const std::size_t length = end_ - body;
    if (length < 0x80) [[likely]] {
      out_[body - 1] = static_cast<char>(length);
      return;
    }
    char buf[10];
    const std::size_t n = varint_to(buf, length);
    reserve(n);
    std::memmove(&out_[body + n - 1], &out_[body], length);
    std::memcpy(&out_[body - 1], buf, n);
    end_ += n - 1;
  }

 private:
  static std::size_t varint_to(char* buf, std::uint64_t v) noexcept {
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(static_cast<std::uint8_t>(v) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    return n;
  }
  static bool ascii(std::string_view v) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= v.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, v.data() + i, 8);
      if ((w & 0x8080808080808080ULL) != 0) return false;
    }
    for (; i < v.size(); ++i) {
      if (static_cast<unsigned char>(v[i]) >= 0x80) return false;
    }
    return true;
  }
  void put_unicode(std::uint32_t field, std::string_view v);  // otlp_protobuf.cpp

  char* at() noexcept { return out_.data() + end_; }
  void reserve(std::size_t n) {
    if (end_ + n > out_.size()) [[unlikely]] out_.resize(std::max(out_.size() * 2, end_ + n + 4096));
  }
  void tag(std::uint32_t field, wire type) { varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint8_t>(type)); }
  void varint(std::uint64_t v) { end_ += varint_to(at(), v); }  // room reserved by the caller

  std::string& out_;
  std::size_t end_;
};

}  // namespace prela::detail::pb
