#include "prela/propagation.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "prela/context.hpp"
#include "prela/span.hpp"

#include "detail/baggage_build.hpp"
#include "detail/hex.hpp"
#include "detail/http_token.hpp"
#include "detail/stable_sort_small.hpp"
#include "detail/text.hpp"

namespace prela {
namespace {

using detail::any_hex;
using detail::is_ows;
using detail::lower_hex;
using detail::trim;

/// Case-insensitive comparison with a lower-case ASCII name.
bool equals_lower(std::string_view s, std::string_view lower) noexcept {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// Character classes of the header grammars, one table lookup per character.
enum : std::uint8_t {
  cls_tchar = 1,      // RFC 9110 token character (baggage keys, property keys)
  cls_baggage = 2,    // W3C Baggage baggage-octet (values, unencoded)
  cls_ts_key = 4,     // tracestate keychar: lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
  cls_ts_value = 8,   // tracestate value character (chr: %x20-7E except "," and "=")
  cls_safe_out = 16,  // written as is in an injected baggage value (baggage-octet but "%")
};

constexpr std::array<std::uint8_t, 256> char_classes = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t v = 0;
    const bool lower = c >= 'a' && c <= 'z';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool digit = c >= '0' && c <= '9';
    if (lower || upper || digit) v |= cls_tchar;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~':
        v |= cls_tchar;
        break;
      default:
        break;
    }
    // %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
    if (c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
        (c >= 0x5d && c <= 0x7e)) {
      v |= cls_baggage;
      if (c != '%') v |= cls_safe_out;
    }
    if (lower || digit || c == '_' || c == '-' || c == '*' || c == '/' || c == '@') v |= cls_ts_key;
    if (c >= 0x20 && c <= 0x7e && c != ',' && c != '=') v |= cls_ts_value;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}();

constexpr bool has_class(char c, std::uint8_t cls) noexcept {
  return (char_classes[static_cast<unsigned char>(c)] & cls) != 0;
}

/// True if every character of `s` has class `cls`.
bool all_of_class(std::string_view s, std::uint8_t cls) noexcept {
  std::uint8_t acc = cls;
  for (char c : s) acc &= char_classes[static_cast<unsigned char>(c)];
  return (acc & cls) != 0;
}

// --- tracestate grammar (Trace Context Level 2, §3.3.1, as the w3c/trace-context
// repository states it today: the multi-tenant key form was folded into one rule) ---
constexpr bool is_lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// --- baggage grammar (W3C Baggage §3.3.1) ---
bool is_token(std::string_view s) noexcept { return !s.empty() && all_of_class(s, cls_tchar); }

/// The first 8 characters of `key` as a big-endian number, zero-padded: comparing two
/// of these orders keys as comparing the strings does, when the keys hold no NUL.
/// `readable` is how many bytes from key.data() may be read (at least key.size()).
std::uint64_t key_prefix(std::string_view key, std::size_t readable) noexcept {
  std::uint64_t prefix = 0;
  if (readable >= 8) {
    std::memcpy(&prefix, key.data(), 8);
    prefix = detail::to_big_endian(prefix);
    if (key.size() < 8) prefix &= ~std::uint64_t{0} << (8 * (8 - key.size()));
    return prefix;
  }
  for (std::size_t i = 0; i < 8; ++i) {
    prefix = prefix << 8 | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0U);
  }
  return prefix;
}

/// Percent-decodes a baggage value made of baggage-octets that holds at least one
/// "%" and appends it to `out`; false (with `out` unchanged) if an escape is malformed.
/// Invalid UTF-8 in the result is replaced.
bool append_escaped_value(std::string& out, std::string_view value) {
  thread_local std::string raw;  // decoded bytes before the UTF-8 check; reused
  if (!detail::percent_decode(value, raw)) return false;
  detail::append_utf8_sanitized(out, raw);  // as the baggage spec requires
  return true;
}

bool valid_baggage_property(std::string_view prop) noexcept {
  // property = key OWS "=" OWS value / key OWS
  const std::size_t eq = prop.find('=');
  if (eq == std::string_view::npos) return is_token(trim(prop));
  const std::string_view value = trim(prop.substr(eq + 1));
  return is_token(trim(prop.substr(0, eq))) && all_of_class(value, cls_baggage);
}

/// Calls fn(member) for each comma-separated member of `list`, trimmed, skipping
/// empty ones; stops when fn returns false.
template <class Fn>
bool for_each_member(std::string_view list, Fn&& fn) {
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view member = trim(list.substr(0, comma));
    if (!member.empty() && !fn(member)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

std::optional<prela::trace_id> parse_x_trace_id(std::string_view v) noexcept {
  v = trim(v);
  if (v.size() == 36) {
    // A UUID: 8-4-4-4-12 hex digits.
    std::array<char, 32> digits{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (v[i] != '-') return std::nullopt;
      } else {
        digits[n++] = v[i];
      }
    }
    return prela::trace_id::from_hex(std::string_view(digits.data(), digits.size()));
  }
  return prela::trace_id::from_hex(v);
}

}  // namespace

namespace w3c {

std::optional<traceparent_fields> parse_traceparent(std::string_view v) noexcept {
  v = trim(v);
  // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2 = 55
  if (v.size() < 55) return std::nullopt;
  const int v_hi = lower_hex(v[0]);
  const int v_lo = lower_hex(v[1]);
  const int f_hi = lower_hex(v[53]);
  const int f_lo = lower_hex(v[54]);
  if ((v_hi | v_lo | f_hi | f_lo) < 0) return std::nullopt;
  const int version = (v_hi << 4) | v_lo;
  if (version == 0xff) return std::nullopt;
  if (version == 0 && v.size() != 55) return std::nullopt;
  // A later version may append fields, after a dash.
  if (v.size() > 55 && v[55] != '-') return std::nullopt;
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;

  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::uint64_t parent = 0;
  const char* p = v.data();
  if (!detail::parse_lower_hex64(p + 3, hi) || !detail::parse_lower_hex64(p + 19, lo) ||
      !detail::parse_lower_hex64(p + 36, parent)) {
    return std::nullopt;
  }
  traceparent_fields out;
  out.trace_id = prela::trace_id(hi, lo);
  out.parent_id = prela::span_id(parent);
  if (!out.trace_id.is_valid() || !out.parent_id.is_valid()) return std::nullopt;
  out.flags = static_cast<std::uint8_t>(((f_hi << 4) | f_lo) & (trace_flag_sampled | trace_flag_random));
  return out;
}

std::string parse_tracestate(const std::string_view* lines, std::size_t count) {
  if (count > detail::incoming_headers::max_lines) return {};
  // Left uninitialised: only [0, n) is used, and this runs for every request.
  struct member {
    const char* text;
    std::uint16_t size;
    std::uint16_t key_size;
    bool kept;
  };
  member members[propagation_limits::tracestate_members];  // NOLINT(cppcoreguidelines-pro-type-member-init)
  std::size_t n = 0;
  // list = list-member 0*31( OWS "," OWS list-member ), members possibly empty. One
  // scan per line; any invalid member makes the whole header invalid.
  for (std::size_t line = 0; line < count; ++line) {
    const char* p = lines[line].data();
    const char* const end = p + lines[line].size();
    while (true) {
      while (p != end && is_ows(*p)) ++p;
      if (p == end) break;
      if (*p == ',') {  // an empty member
        ++p;
        continue;
      }
      if (n == propagation_limits::tracestate_members) return {};  // more than 32 members
      // key = ( lcalpha / DIGIT ) 0*255( keychar )
      const char* const key = p;
      if (!is_lcalpha(*p) && !is_digit(*p)) return {};
      ++p;
      while (p != end && has_class(*p, cls_ts_key)) ++p;
      const auto key_size = static_cast<std::size_t>(p - key);
      if (p == end || *p != '=' || key_size > 256) return {};
      // value = 0*255( chr ) nblk-chr, chr = %x20-7E but "," and "="; the spaces that
      // end it are the OWS before the next comma.
      const char* const value = ++p;
      while (p != end && has_class(*p, cls_ts_value)) ++p;
      const char* value_end = p;
      while (value_end != value && value_end[-1] == ' ') --value_end;
      if (value_end == value || value_end - value > 256) return {};
      while (p != end && is_ows(*p)) ++p;
      if (p != end && *p != ',') return {};  // "=", a control or non-ASCII character
      bool duplicate = false;
      for (std::size_t i = 0; i < n && !duplicate; ++i) {
        duplicate = members[i].key_size == key_size && std::memcmp(members[i].text, key, key_size) == 0;
      }
      // Of a duplicate key, the first member is kept (§3.5 lets vendors discard the
      // others). A member is at most 256 + 1 + 256 characters.
      if (!duplicate) {
        members[n++] = {key, static_cast<std::uint16_t>(value_end - key),
                        static_cast<std::uint16_t>(key_size), true};
      }
      if (p == end) break;
      ++p;  // the comma
    }
  }
  if (n == 0) return {};

  std::size_t total = n - 1;
  for (std::size_t i = 0; i < n; ++i) total += members[i].size;
  // Truncation: entries longer than 128 characters go first, then entries from the end.
  for (std::size_t i = n; i-- > 0 && total > propagation_limits::tracestate_bytes;) {
    if (members[i].size > 128) {
      members[i].kept = false;
      total -= members[i].size + 1U;
    }
  }
  for (std::size_t i = n; i-- > 0 && total > propagation_limits::tracestate_bytes;) {
    if (members[i].kept) {
      members[i].kept = false;
      total -= members[i].size + 1U;
    }
  }
  // The usual header is already in its normal form: one line whose members, joined
  // by single commas, are all of it.
  if (count == 1 && total == lines[0].size()) return std::string(lines[0]);
  std::string out;
  out.reserve(total);
  for (std::size_t i = 0; i < n; ++i) {
    if (!members[i].kept) continue;
    if (!out.empty()) out.push_back(',');
    out.append(members[i].text, members[i].size);
  }
  return out;
}

prela::baggage parse_baggage(const std::string_view* lines, std::size_t count) {
  // First the members that parse, as views into the lines (escaped values decoded into
  // one side buffer); then their order by key; then the storage, built once.
  struct member {
    std::uint64_t prefix;  // the key's first 8 characters, big-endian, zero-padded
    std::string_view key;
    std::string_view value;    // as sent, or when escaped: decoded_text.substr(decoded_at, value.size())
    std::uint32_t decoded_at;  // a member is at most baggage_bytes long
    bool escaped;
  };
  thread_local std::vector<member> found;  // reused: no allocation per request
  found.clear();
  std::string decoded_text;
  std::size_t bytes = 0;
  count = std::min(count, detail::incoming_headers::max_lines);
  for (std::size_t line = 0; line < count; ++line) {
    const bool more = for_each_member(lines[line], [&](std::string_view m) {
      if (found.size() == propagation_limits::baggage_entries) return false;
      bytes += m.size() + (bytes == 0 ? 0 : 1);
      if (bytes > propagation_limits::baggage_bytes) return false;
      // list-member = key OWS "=" OWS value *( OWS ";" OWS property ), in one scan; a
      // member that does not parse is skipped on its own.
      const char* const begin = m.data();
      const char* const end = begin + m.size();
      const char* p = begin;
      while (p != end && has_class(*p, cls_tchar)) ++p;
      const std::string_view key(begin, static_cast<std::size_t>(p - begin));
      while (p != end && is_ows(*p)) ++p;
      if (key.empty() || p == end || *p != '=') return true;
      ++p;
      while (p != end && is_ows(*p)) ++p;
      const char* const value_begin = p;
      // Escapes are rare: the loop for the other octets, then the general one if a "%"
      // stopped it.
      while (p != end && has_class(*p, cls_safe_out)) ++p;
      const bool escaped = p != end && *p == '%';
      while (p != end && has_class(*p, cls_baggage)) ++p;
      std::string_view value(value_begin, static_cast<std::size_t>(p - value_begin));
      while (p != end && is_ows(*p)) ++p;
      if (p != end) {
        if (*p != ';') return true;
        std::string_view props(p + 1, static_cast<std::size_t>(end - p - 1));
        while (!props.empty()) {
          const std::size_t semi = props.find(';');
          if (!valid_baggage_property(props.substr(0, semi))) return true;
          props = semi == std::string_view::npos ? std::string_view{} : props.substr(semi + 1);
        }
      }
      std::uint32_t decoded_at = 0;
      if (escaped) {
        decoded_at = static_cast<std::uint32_t>(decoded_text.size());
        if (!append_escaped_value(decoded_text, value)) return true;
        // Only its length is kept: decoded_text may move as it grows.
        value = std::string_view(value.data(), decoded_text.size() - decoded_at);
      }
      // Unescaped octets are ASCII: nothing to decode or check.
      found.push_back({key_prefix(key, m.size()), key, value, decoded_at, escaped});
      return true;
    });
    if (!more) break;
  }
  if (found.empty()) return {};
  // Sorted through an index, so that no member is copied: members are written field by
  // field just before, and copying one whole would read them back before the stores
  // complete. Keys are tokens (no NUL), so comparing the zero-padded prefixes orders
  // them as the strings do; only keys sharing their first 8 characters compare further.
  std::array<std::uint8_t, propagation_limits::baggage_entries>
      order;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  static_assert(propagation_limits::baggage_entries <= 256);
  for (std::size_t i = 0; i < found.size(); ++i) order[i] = static_cast<std::uint8_t>(i);
  const auto same_key = [](const member& x, const member& y) {
    return x.prefix == y.prefix && x.key == y.key;
  };
  // Stable, so that of equal keys the later one comes last.
  detail::stable_sort_small(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(found.size()),
                            [](std::uint8_t a, std::uint8_t b) {
                              const member& x = found[a];
                              const member& y = found[b];
                              return x.prefix != y.prefix ? x.prefix < y.prefix : x.key < y.key;
                            });
  std::size_t kept = 0;  // of each run of equal keys, the last one (the later value wins)
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (i + 1 < found.size() && same_key(found[order[i + 1]], found[order[i]])) continue;
    order[kept++] = order[i];
  }
  return detail::baggage_access::make(detail::baggage_builder::build(kept, [&](std::size_t i) {
    const member& m = found[order[i]];
    if (m.escaped) {
      // The decoded text may hold characters that are escaped again when written.
      return detail::baggage_source{m.key,
                                    std::string_view(decoded_text).substr(m.decoded_at, m.value.size())};
    }
    // A token, "=", and baggage-octets other than "%": written as they came.
    return detail::baggage_source{m.key, m.value,
                                  static_cast<std::int32_t>(m.key.size() + 1 + m.value.size())};
  }));
}

std::string format_baggage(const prela::baggage& entries) {
  const detail::baggage_ref& e = detail::baggage_access::entries(entries);
  if (!e) return {};
  std::string out(e->header_size(), '\0');
  detail::encode_baggage_header(*e, out.data());
  return out;
}

}  // namespace w3c

namespace detail {
bool is_http_token(std::string_view s) noexcept { return is_token(s); }

std::uint16_t encoded_member_size(std::string_view key, std::string_view value) noexcept {
  if (!is_token(key)) return 0;  // cannot be written as a header token
  std::size_t escaped = 0;
  for (char c : value) escaped += has_class(c, cls_safe_out) ? 0 : 1;
  const std::size_t size = key.size() + 1 + value.size() + 2 * escaped;
  return size > propagation_limits::baggage_bytes ? 0 : static_cast<std::uint16_t>(size);
}

void encode_baggage_header(const baggage_entries& e, char* out) noexcept {
  lay_out_header(e.encoded_sizes(), e.size(), [&](std::size_t i, bool comma) {
    const auto& [key, value] = e.begin()[i];
    if (comma) *out++ = ',';
    out = copy_short(out, key.data(), key.size());
    *out++ = '=';
    if (e.encoded_size(i) == key.size() + 1 + value.size()) {
      out = copy_short(out, value.data(), value.size());
      return;
    }
    for (char c : value) {
      if (has_class(c, cls_safe_out)) {
        *out++ = c;
      } else {
        const auto b = static_cast<unsigned char>(c);
        *out++ = '%';
        *out++ = "0123456789ABCDEF"[b >> 4];
        *out++ = "0123456789ABCDEF"[b & 0xF];
      }
    }
  });
}
}  // namespace detail

namespace detail {
namespace {

// Indexed by header_kind.
constexpr std::array<std::string_view, header_kinds> written_names = {
    header::traceparent, header::tracestate, header::baggage, header::x_trace_id, header::x_span_id};
constexpr std::array<formats, header_kinds> format_of_kind = {formats::trace_context, formats::trace_context,
                                                              formats::baggage, formats::x_trace_id,
                                                              formats::x_trace_id};

// kind_of() compares with these spellings.
static_assert(header::traceparent == "traceparent" && header::tracestate == "tracestate" &&
              header::baggage == "baggage" && header::x_trace_id == "X-Trace-ID" &&
              header::x_span_id == "X-Span-ID");

formats format_of(header_kind k) noexcept { return format_of_kind[static_cast<std::size_t>(k)]; }

/// True if `name` (of the literal's length) is spelled exactly as `lit`; a fixed-size
/// comparison the compiler inlines.
template <std::size_t N>
bool spelled(std::string_view name, const char (&lit)[N]) noexcept {
  return std::memcmp(name.data(), lit, N - 1) == 0;
}

/// Which header prela knows `name` is (any case), or none; `exact` when it is spelled
/// as prela writes it. Carriers mostly hold names as prela writes them (a reused
/// carrier, HTTP/2's lower case for the W3C headers), so that spelling is compared
/// whole first; other spellings go through the case-insensitive loop.
header_kind kind_of(std::string_view name, bool& exact) noexcept {
  exact = false;
  switch (name.size()) {
    case 11:
      exact = spelled(name, "traceparent");
      return exact || equals_lower(name, "traceparent") ? header_kind::traceparent : header_kind::none;
    case 10:
      if (spelled(name, "tracestate")) return exact = true, header_kind::tracestate;
      if (spelled(name, "X-Trace-ID")) return exact = true, header_kind::x_trace_id;
      if (equals_lower(name, "tracestate")) return header_kind::tracestate;
      return equals_lower(name, "x-trace-id") ? header_kind::x_trace_id : header_kind::none;
    case 9:
      exact = spelled(name, "X-Span-ID");
      return exact || equals_lower(name, "x-span-id") ? header_kind::x_span_id : header_kind::none;
    case 7:
      exact = spelled(name, "baggage");
      return exact || equals_lower(name, "baggage") ? header_kind::baggage : header_kind::none;
    default:
      return header_kind::none;
  }
}

}  // namespace

void incoming_headers::add(std::string_view name, std::string_view value) noexcept {
  bool exact = false;
  lines* target = nullptr;
  single* one = nullptr;
  switch (kind_of(name, exact)) {
    case header_kind::traceparent:
      one = &traceparent;
      break;
    case header_kind::tracestate:
      target = &tracestate;
      break;
    case header_kind::baggage:
      target = &baggage;
      break;
    case header_kind::x_trace_id:
      one = &x_trace_id;
      break;
    case header_kind::x_span_id:
      one = &x_span_id;
      break;
    case header_kind::none:
      return;
  }
  if (target != nullptr) {
    if (target->count < max_lines) target->values[target->count] = value;
    ++target->count;
  } else {
    if (one->count == 0) one->value = value;
    ++one->count;
  }
}

remote_context decode(const incoming_headers& in, formats f) {
  remote_context r;
  bool have_parent = false;
  // Repeated traceparent headers make it invalid (Trace Context §3.2.2).
  if (includes(f, formats::trace_context) && in.traceparent.count == 1) {
    if (auto tp = w3c::parse_traceparent(in.traceparent.value)) {
      r.trace_id = tp->trace_id;
      r.span_id = tp->parent_id;
      r.sampled = (tp->flags & trace_flag_sampled) != 0;
      r.random_trace_id = (tp->flags & trace_flag_random) != 0;
      have_parent = true;
      if (in.tracestate.count > 0)
        r.trace_state = w3c::parse_tracestate(in.tracestate.values.data(), in.tracestate.count);
    }
  }
  if (!have_parent && includes(f, formats::x_trace_id) && in.x_trace_id.count == 1) {
    if (auto id = parse_x_trace_id(in.x_trace_id.value)) {
      r.trace_id = *id;
      // These headers carry no sampling decision; the caller traced the request.
      r.sampled = true;
      if (in.x_span_id.count == 1) {
        if (auto parent = prela::span_id::from_hex(trim(in.x_span_id.value))) r.span_id = *parent;
      }
    }
  }
  if (includes(f, formats::baggage) && in.baggage.count > 0) {
    r.baggage = w3c::parse_baggage(in.baggage.values.data(), in.baggage.count);
  }
  return r;
}

void encode_current(outgoing_headers& out, formats f) {
  const trace_context* ctx = peek_context();
  if (ctx == nullptr) return;
  const span* s = ctx->current_span();
  if (s != nullptr && s->trace_id().is_valid()) {
    if (includes(f, formats::trace_context)) {
      char* p = out.traceparent.data();
      *p++ = '0';
      *p++ = '0';
      *p++ = '-';
      s->trace_id().to_hex(p);
      p += 32;
      *p++ = '-';
      s->span_id().to_hex(p);
      p += 16;
      *p++ = '-';
      const unsigned flags = s->trace_flags() & (trace_flag_sampled | trace_flag_random);
      *p++ = hex_digits[flags >> 4];
      *p = hex_digits[flags & 0xF];
      out.has_traceparent = true;
      out.tracestate = s->trace_state();
    }
    if (includes(f, formats::x_trace_id)) {
      s->trace_id().to_hex(out.x_trace_id.data());
      s->span_id().to_hex(out.x_span_id.data());
      out.has_x_trace_id = out.has_x_span_id = true;
    }
  } else if (includes(f, formats::x_trace_id) && ctx->trace_id().is_valid()) {
    ctx->trace_id().to_hex(out.x_trace_id.data());
    out.has_x_trace_id = true;
  }
  if (includes(f, formats::baggage)) {
    if (const baggage_entries* entries = ctx->baggage_entries()) {
      const char* encoded = entries->header();
      if (encoded == nullptr) {
        if (entries->claim_header()) {
          encode_baggage_header(*entries, entries->header_room());
          entries->publish_header();
          encoded = entries->header_room();
        } else {
          thread_local std::string buffer;  // another thread is writing the header
          buffer.resize(entries->header_size());
          encode_baggage_header(*entries, buffer.data());
          encoded = buffer.data();
        }
      }
      out.baggage = std::string_view(encoded, entries->header_size());
    }
  }
}

header_kind classify(std::string_view name, formats f, bool& exact) noexcept {
  const header_kind k = kind_of(name, exact);
  if (k == header_kind::none || !includes(f, format_of(k))) {
    exact = false;
    return header_kind::none;
  }
  return k;
}

std::string_view name_of(header_kind k) noexcept {
  return k == header_kind::none ? std::string_view{} : written_names[static_cast<std::size_t>(k)];
}

std::optional<std::string_view> value_for(const outgoing_headers& out, formats f, header_kind k) noexcept {
  switch (k) {
    case header_kind::traceparent:
      if (includes(f, formats::trace_context) && out.has_traceparent) return out.traceparent_value();
      break;
    case header_kind::tracestate:
      if (includes(f, formats::trace_context) && out.has_traceparent && !out.tracestate.empty())
        return out.tracestate;
      break;
    case header_kind::baggage:
      if (includes(f, formats::baggage) && !out.baggage.empty()) return out.baggage;
      break;
    case header_kind::x_trace_id:
      if (includes(f, formats::x_trace_id) && out.has_x_trace_id) return out.x_trace_id_value();
      break;
    case header_kind::x_span_id:
      if (includes(f, formats::x_trace_id) && out.has_x_span_id) return out.x_span_id_value();
      break;
    case header_kind::none:
      break;
  }
  return std::nullopt;
}

bool is_propagation_header(std::string_view name, formats f) noexcept {
  bool exact = false;
  return classify(name, f, exact) != header_kind::none;
}

}  // namespace detail
}  // namespace prela
