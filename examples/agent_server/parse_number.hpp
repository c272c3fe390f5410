// Command-line numbers for agent_server and agent_server_untraced.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace demo {

/// `text` as a number in [min, max], all of it; nothing otherwise.
template <class T>
std::optional<T> parse_number(std::string_view text, T min, T max) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    return std::nullopt;
  return value;
}

}  // namespace demo
