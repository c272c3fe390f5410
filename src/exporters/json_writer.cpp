#include "json_writer.hpp"

#include <ctime>
#include <variant>

namespace prela::detail::json {

void append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t len = utf8_sequence(s, i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(detail::hex_digits[c >> 4]);
          out.push_back(detail::hex_digits[c & 0xF]);
        } else {
          out.append("\xEF\xBF\xBD");  // not UTF-8
        }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_double(std::string& out, double v, bool proto_strings) {
  if (std::isfinite(v)) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  } else if (!proto_strings) {
    out.append("null");
  } else if (std::isnan(v)) {
    out.append("\"NaN\"");
  } else {
    out.append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  }
}

void append_micros(std::string& out, std::chrono::nanoseconds t) {
  const std::int64_t ns = t.count();
  append_int(out, ns / 1000);
  const auto frac = static_cast<int>(ns % 1000 < 0 ? -(ns % 1000) : ns % 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
}

void append_iso8601(std::string& out, std::chrono::nanoseconds since_epoch) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(since_epoch);
  const auto micros = duration_cast<microseconds>(since_epoch - secs).count();
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{sys_days{days}};
  const hh_mm_ss hms{secs - days};
  char buf[40];
  const int n =
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                    static_cast<int>(hms.seconds().count()), static_cast<long long>(micros));
  out.append(buf, static_cast<std::size_t>(n));
}

void append_plain_value(std::string& out, const attribute_value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          out.append(x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          append_int(out, x);
        } else if constexpr (std::is_same_v<T, double>) {
          append_double(out, x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          append_string(out, x);
        } else {
          out.push_back('[');
          bool first = true;
          for (const auto& e : x) {
            if (!first) out.push_back(',');
            first = false;
            if constexpr (std::is_same_v<typename T::value_type, bool>) {
              out.append(e ? "true" : "false");
            } else if constexpr (std::is_same_v<typename T::value_type, std::int64_t>) {
              append_int(out, e);
            } else if constexpr (std::is_same_v<typename T::value_type, double>) {
              append_double(out, e);
            } else {
              append_string(out, e);
            }
          }
          out.push_back(']');
        }
      },
      v.variant());
}

void append_members(std::string& out, const std::vector<attribute>& attributes, bool comma_first) {
  for (const auto& a : attributes) {
    if (comma_first) out.push_back(',');
    comma_first = true;
    append_string(out, a.key);
    out.push_back(':');
    append_plain_value(out, a.value);
  }
}

}  // namespace prela::detail::json
