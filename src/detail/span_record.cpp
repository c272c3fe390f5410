// The record's layout, in the machine's byte order (records never leave the process):
//
//   header     u32 name, trace state and status message lengths, attribute and event
//              counts, dropped attributes, dropped events; u8 type, status, trace
//              flags, remote parent; u64 trace id high and low, span id, parent span
//              id; i64 start and end time
//   strings    name, trace state, status message
//   attributes each: u32 key length, key, u8 value kind (the variant's index), value
//   events     each: u32 name length, name, i64 time, u32 attribute count, attributes
//
// A value is 1 byte (bool), 8 (int64, double), or a u32 count followed by the elements
// (strings: u32 length and bytes). Lengths and counts past 2^32 - 1 are cut there: no
// string or list that large fits in an export anyway.
#include "detail/span_record.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>

namespace prela::detail {
namespace {

std::uint32_t cut(std::size_t n) noexcept {
  return static_cast<std::uint32_t>(std::min<std::size_t>(n, std::numeric_limits<std::uint32_t>::max()));
}

/// Writes a record's fields in order at `out`, or, with Write false, only counts their
/// bytes: record_size and encode_record take the same walk (write_record), so the
/// size reserved is always the size written.
template <bool Write>
class writer {
 public:
  explicit writer(std::byte* out = nullptr) noexcept : out_(out) {}
  [[nodiscard]] std::size_t written() const noexcept { return n_; }
  template <class T>
  void put(T v) noexcept {
    if constexpr (Write) std::memcpy(out_ + n_, &v, sizeof v);
    n_ += sizeof v;
  }
  void put_raw(std::string_view s) noexcept {  // the first cut(s.size()) bytes, no length
    const std::uint32_t n = cut(s.size());
    if constexpr (Write) {
      if (n != 0) std::memcpy(out_ + n_, s.data(), n);
    }
    n_ += n;
  }
  void put_string(std::string_view s) noexcept {
    put(cut(s.size()));
    put_raw(s);
  }
  void put_value(const attribute_variant& v) noexcept {
    put(static_cast<std::uint8_t>(v.index()));
    std::visit(
        [this](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>) {
            put(static_cast<std::uint8_t>(x));
          } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
            put(x);
          } else if constexpr (std::is_same_v<T, std::string>) {
            put_string(x);
          } else {
            const std::uint32_t n = cut(x.size());
            put(n);
            for (std::size_t i = 0; i < n; ++i) {
              if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                put_string(x[i]);
              } else if constexpr (std::is_same_v<T, std::vector<bool>>) {
                put(static_cast<std::uint8_t>(x[i]));
              } else {
                put(x[i]);
              }
            }
          }
        },
        v);
  }
  void put_attributes(const prela::attributes& attrs) noexcept {
    for (const attribute& a : attrs) {
      put_string(a.key);
      put_value(a.value.variant());
    }
  }

 private:
  std::byte* out_;
  std::size_t n_ = 0;
};

template <bool Write>
void write_record(writer<Write>& w, const span_view& s) noexcept {
  w.put(cut(s.name.size()));
  w.put(cut(s.trace_state.size()));
  w.put(cut(s.status_message.size()));
  w.put(cut(s.attributes != nullptr ? s.attributes->size() : 0));
  w.put(cut(s.events != nullptr ? s.events->size() : 0));
  w.put(s.dropped_attributes);
  w.put(s.dropped_events);
  w.put(static_cast<std::uint8_t>(s.type));
  w.put(static_cast<std::uint8_t>(s.status));
  w.put(s.trace_flags);
  w.put(static_cast<std::uint8_t>(s.parent_is_remote));
  w.put(s.trace_id.high());
  w.put(s.trace_id.low());
  w.put(s.span_id.value());
  w.put(s.parent_span_id.value());
  w.put(static_cast<std::int64_t>(s.start_time.count()));
  w.put(static_cast<std::int64_t>(s.end_time.count()));
  // The lengths are in the header: the strings follow without them.
  w.put_raw(s.name);
  w.put_raw(s.trace_state);
  w.put_raw(s.status_message);
  if (s.attributes != nullptr) w.put_attributes(*s.attributes);
  if (s.events != nullptr) {
    for (const span_event& e : *s.events) {
      w.put_string(e.name);
      w.put(static_cast<std::int64_t>(e.time.count()));
      w.put(cut(e.attributes.size()));
      w.put_attributes(e.attributes);
    }
  }
}

class reader {
 public:
  explicit reader(const std::byte* p) noexcept : p_(p) {}
  template <class T>
  T get() noexcept {
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  std::string_view get_raw(std::size_t n) noexcept {
    const std::string_view s(reinterpret_cast<const char*>(p_), n);  // NOLINT: bytes written as chars
    p_ += n;
    return s;
  }
  std::string_view get_string() noexcept { return get_raw(get<std::uint32_t>()); }
  template <class T>
  void get_list(attribute_variant& into) {
    const auto n = get<std::uint32_t>();
    auto* list = std::get_if<T>(&into);
    if (list == nullptr) list = &into.emplace<T>();
    list->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, std::vector<std::string>>) {
        (*list)[i].assign(get_string());
      } else if constexpr (std::is_same_v<T, std::vector<bool>>) {
        (*list)[i] = get<std::uint8_t>() != 0;
      } else {
        (*list)[i] = get<typename T::value_type>();
      }
    }
  }
  void get_value(attribute_variant& into) {
    switch (get<std::uint8_t>()) {
      case 0:
        into = get<std::uint8_t>() != 0;
        return;
      case 1:
        into = get<std::int64_t>();
        return;
      case 2:
        into = get<double>();
        return;
      case 3: {
        const std::string_view s = get_string();
        if (auto* str = std::get_if<std::string>(&into)) {
          str->assign(s);
        } else {
          into.emplace<std::string>(s);
        }
        return;
      }
      case 4:
        return get_list<std::vector<bool>>(into);
      case 5:
        return get_list<std::vector<std::int64_t>>(into);
      case 6:
        return get_list<std::vector<double>>(into);
      default:
        return get_list<std::vector<std::string>>(into);
    }
  }
  void get_attributes(prela::attributes& attrs, std::size_t n) {
    attrs.resize(n);
    for (attribute& a : attrs) {
      a.key.assign(get_string());
      get_value(a.value);
    }
  }
  [[nodiscard]] const std::byte* position() const noexcept { return p_; }

 private:
  const std::byte* p_;
};

}  // namespace

std::size_t record_size(const span_view& s) noexcept {
  writer<false> w;
  write_record(w, s);
  return w.written();
}

void encode_record(const span_view& s, std::byte* out) noexcept {
  writer<true> w(out);
  write_record(w, s);
}

const std::byte* decode_record(const std::byte* in, span_data& out) {
  reader r(in);
  const auto name_size = r.get<std::uint32_t>();
  const auto trace_state_size = r.get<std::uint32_t>();
  const auto status_message_size = r.get<std::uint32_t>();
  const auto attribute_count = r.get<std::uint32_t>();
  const auto event_count = r.get<std::uint32_t>();
  out.dropped_attributes = r.get<std::uint32_t>();
  out.dropped_events = r.get<std::uint32_t>();
  out.type = static_cast<span_type>(r.get<std::uint8_t>());
  out.status = static_cast<span_status>(r.get<std::uint8_t>());
  out.trace_flags = r.get<std::uint8_t>();
  out.parent_is_remote = r.get<std::uint8_t>() != 0;
  const auto high = r.get<std::uint64_t>();
  out.trace_id = prela::trace_id(high, r.get<std::uint64_t>());
  out.span_id = prela::span_id(r.get<std::uint64_t>());
  out.parent_span_id = prela::span_id(r.get<std::uint64_t>());
  out.start_time = std::chrono::nanoseconds(r.get<std::int64_t>());
  out.end_time = std::chrono::nanoseconds(r.get<std::int64_t>());
  out.name.assign(r.get_raw(name_size));
  out.trace_state.assign(r.get_raw(trace_state_size));
  out.status_message.assign(r.get_raw(status_message_size));
  r.get_attributes(out.attributes, attribute_count);
  out.events.resize(event_count);
  for (span_event& e : out.events) {
    e.name.assign(r.get_string());
    e.time = std::chrono::nanoseconds(r.get<std::int64_t>());
    r.get_attributes(e.attributes, r.get<std::uint32_t>());
  }
  return r.position();
}

}  // namespace prela::detail
