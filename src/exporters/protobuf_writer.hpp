// Writes the protocol buffers wire format into a std::string, for the one fixed schema
// prela writes (OTLP).
//
// The encoder first bounds what a message can take (the *_max functions below), makes
// that much room in the string once (buffer::room), and then writes every field of the
// message through a plain char pointer that stays in a register: the field functions
// take the pointer and return where the next field goes, with no size check and no
// member reloaded between them. buffer::commit() checks the bound afterwards.
//
// Nested messages are written in place: begin() leaves one byte for the length
// (begin_wide() two), end() fills it in and moves the body only when its length needs
// another number of bytes, so nothing is measured twice.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace prela::detail::pb {

enum class wire : std::uint8_t { varint = 0, fixed64 = 1, length = 2, fixed32 = 5 };

// ---- Bounds: the most bytes each kind of field can take. ------------------------------

/// A tag of a field number below 2048.
inline constexpr std::size_t tag_max = 2;
inline constexpr std::size_t varint_max = 10;
/// A varint, fixed64 or fixed32 field.
inline constexpr std::size_t scalar_max = tag_max + varint_max;
/// A nested message's tag and length, after end() has sized the length.
inline constexpr std::size_t message_max = tag_max + varint_max;
/// A bytes field of `n` bytes.
constexpr std::size_t bytes_max(std::size_t n) noexcept { return tag_max + varint_max + n; }
/// A string field of `n` bytes: each byte that is not part of valid UTF-8 becomes the
/// three bytes of U+FFFD.
constexpr std::size_t string_max(std::size_t n) noexcept { return tag_max + varint_max + 3 * n; }

// ---- Fields, written at `p`; each returns the end of what it wrote. -------------------

inline char* varint(char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>(static_cast<std::uint8_t>(v) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

template <std::uint32_t Field, wire Type>
char* tag(char* p) noexcept {
  static_assert(Field < 2048, "tag_max assumes field numbers below 2048");
  return varint(p, (std::uint64_t{Field} << 3) | static_cast<std::uint8_t>(Type));
}

template <std::uint32_t Field>
char* put_uint(char* p, std::uint64_t v) noexcept {
  return varint(tag<Field, wire::varint>(p), v);
}

/// int64 fields: two's complement, ten bytes for a negative value (not zigzag).
template <std::uint32_t Field>
char* put_int(char* p, std::int64_t v) noexcept {
  return put_uint<Field>(p, static_cast<std::uint64_t>(v));
}

template <class T>
char* little_endian(char* p, T v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, sizeof v);
  } else {
    for (std::size_t i = 0; i < sizeof v; ++i) p[i] = static_cast<char>(v >> (8 * i));
  }
  return p + sizeof v;
}

template <std::uint32_t Field>
char* put_fixed64(char* p, std::uint64_t v) noexcept {
  return little_endian(tag<Field, wire::fixed64>(p), v);
}

template <std::uint32_t Field>
char* put_fixed32(char* p, std::uint32_t v) noexcept {
  return little_endian(tag<Field, wire::fixed32>(p), v);
}

template <std::uint32_t Field>
char* put_double(char* p, double v) noexcept {
  return put_fixed64<Field>(p, std::bit_cast<std::uint64_t>(v));
}

/// Copies n bytes, sizeof(Word) <= n <= 2 * sizeof(Word), as two overlapping words.
template <class Word>
void copy_overlapping(char* p, const char* s, std::size_t n) noexcept {
  Word head;
  Word tail;
  std::memcpy(&head, s, sizeof head);
  std::memcpy(&tail, s + n - sizeof tail, sizeof tail);
  std::memcpy(p, &head, sizeof head);
  std::memcpy(p + n - sizeof tail, &tail, sizeof tail);
}

/// memcpy, without a library call for the short strings that make up most of a span.
inline char* copy(char* p, std::string_view v) noexcept {
  struct bytes16 {
    char b[16];
  };
  const char* s = v.data();
  const std::size_t n = v.size();
  if (n > 32) {
    std::memcpy(p, s, n);
  } else if (n >= 16) {
    copy_overlapping<bytes16>(p, s, n);
  } else if (n >= 8) {
    copy_overlapping<std::uint64_t>(p, s, n);
  } else if (n >= 4) {
    copy_overlapping<std::uint32_t>(p, s, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) p[i] = s[i];
  }
  return p + n;
}

inline bool ascii(std::string_view v) noexcept {
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

/// bytes, or a string already known to be UTF-8.
template <std::uint32_t Field>
char* put_bytes(char* p, std::string_view v) noexcept {
  return copy(varint(tag<Field, wire::length>(p), v.size()), v);
}

/// Writes the length of the body [body, end) into the `room` bytes before it, moving
/// the body when its length needs another number of bytes; returns the body's new end.
char* long_length(char* body, char* end, std::size_t room) noexcept;  // otlp_protobuf.cpp
/// The string's body with byte sequences that are not UTF-8 replaced; returns its end.
char* unicode(char* p, std::string_view v) noexcept;  // otlp_protobuf.cpp

/// Starts a nested message; returns where its body starts, for end().
template <std::uint32_t Field>
char* begin(char* p) noexcept {
  p = tag<Field, wire::length>(p);
  *p = 0;
  return p + 1;
}

inline char* end(char* body, char* p) noexcept {
  const auto length = static_cast<std::size_t>(p - body);
  if (length < 0x80) [[likely]] {
    body[-1] = static_cast<char>(length);
    return p;
  }
  return long_length(body, p, 1);
}

/// begin() for a message that is usually 128 bytes to 16 KiB long (a span): two bytes
/// are left for the length, so end_wide() moves the body only outside that range.
template <std::uint32_t Field>
char* begin_wide(char* p) noexcept {
  p = tag<Field, wire::length>(p);
  p[0] = 0;
  p[1] = 0;
  return p + 2;
}

inline char* end_wide(char* body, char* p) noexcept {
  const auto length = static_cast<std::size_t>(p - body);
  if (length >= 0x80 && length < 0x4000) [[likely]] {
    body[-2] = static_cast<char>((length & 0x7F) | 0x80);
    body[-1] = static_cast<char>(length >> 7);
    return p;
  }
  return long_length(body, p, 2);
}

/// A string field: byte sequences that are not UTF-8 become U+FFFD (receivers reject a
/// request whose strings are not UTF-8).
template <std::uint32_t Field>
[[gnu::always_inline]] inline char* put_string(char* p, std::string_view v) noexcept {
  if (ascii(v)) [[likely]]
    return put_bytes<Field>(p, v);
  char* body = begin<Field>(p);
  return end(body, unicode(body, v));
}

// ---- The string being written. ---------------------------------------------------------

/// Appends to a std::string: room(n) makes space for n bytes and returns where they go,
/// commit(p) records that the bytes up to p are written. The string has its final size
/// when the buffer is destroyed.
class buffer {
 public:
  explicit buffer(std::string& out) : out_(out), used_(out.size()) {}
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  ~buffer() { out_.resize(used_); }

  char* room(std::size_t n) {
    if (out_.size() - used_ < n) [[unlikely]]
      grow(n);
    char* p = out_.data() + used_;
    bound_ = p + n;
    return p;
  }
  /// `p` is past what room() returned by at most the n given to it: a bound that is
  /// too small is a bug, and stops the process before it writes further.
  void commit(const char* p) noexcept {
    if (p > bound_) [[unlikely]]
      overrun();
    used_ = static_cast<std::size_t>(p - out_.data());
  }

  /// Positions that stay valid when room() moves the string.
  std::size_t offset(const char* p) const noexcept { return static_cast<std::size_t>(p - out_.data()); }
  char* at(std::size_t offset) noexcept { return out_.data() + offset; }

 private:
  void grow(std::size_t n);                     // otlp_protobuf.cpp
  [[noreturn]] static void overrun() noexcept;  // otlp_protobuf.cpp

  std::string& out_;
  std::size_t used_;
  const char* bound_ = nullptr;
};

}  // namespace prela::detail::pb
