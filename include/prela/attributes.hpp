// Attribute values and lists, as OpenTelemetry defines them.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace prela {

using attribute_variant =
    std::variant<bool, std::int64_t, double, std::string, std::vector<bool>, std::vector<std::int64_t>,
                 std::vector<double>, std::vector<std::string>>;

/// One attribute value. Converts implicitly from the usual C++ types: any integer
/// becomes int64, any floating point double, any string-like type a string, and
/// vectors / braced lists of those the matching array type. `const char*` becomes a
/// string, never a bool.
class attribute_value : public attribute_variant {
 public:
  // The constructors for a fixed type are defined in the library, not here: inline,
  // each would instantiate its part of std::variant in every translation unit that
  // includes prela (most of the header's compile cost). The templates (integers,
  // floating point, vectors of integers) are compiled only where they are used.
  attribute_value();
  attribute_value(bool v);  // NOLINT(google-explicit-constructor)
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  attribute_value(T v)  // NOLINT(google-explicit-constructor)
      : attribute_variant(static_cast<std::int64_t>(v)) {}
  template <std::floating_point T>
  attribute_value(T v)  // NOLINT(google-explicit-constructor)
      : attribute_variant(static_cast<double>(v)) {}
  attribute_value(const char* v);                // NOLINT(google-explicit-constructor)
  attribute_value(std::string_view v);           // NOLINT(google-explicit-constructor)
  attribute_value(std::string v);                // NOLINT(google-explicit-constructor)
  attribute_value(std::vector<bool> v);          // NOLINT(google-explicit-constructor)
  attribute_value(std::vector<std::int64_t> v);  // NOLINT(google-explicit-constructor)
  attribute_value(std::vector<double> v);        // NOLINT(google-explicit-constructor)
  attribute_value(std::vector<std::string> v);   // NOLINT(google-explicit-constructor)
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, std::int64_t>)
  attribute_value(const std::vector<T>& v)  // NOLINT(google-explicit-constructor)
      : attribute_variant(std::vector<std::int64_t>(v.begin(), v.end())) {}
  attribute_value(std::initializer_list<const char*> v);   // NOLINT
  attribute_value(std::initializer_list<std::string> v);   // NOLINT
  attribute_value(std::initializer_list<int> v);           // NOLINT
  attribute_value(std::initializer_list<std::int64_t> v);  // NOLINT
  attribute_value(std::initializer_list<double> v);        // NOLINT
  attribute_value(std::initializer_list<bool> v);          // NOLINT

  /// The variant itself, for std::visit and std::get.
  [[nodiscard]] const attribute_variant& variant() const noexcept { return *this; }
};

/// A key and its value.
struct attribute {
  std::string key;
  attribute_value value;

  friend bool operator==(const attribute& a, const attribute& b);
};

/// What functions taking attributes accept: `{{"model", "gpt-4"}, {"tokens", 42}}`.
/// Order is kept; a key set twice keeps its last value.
using attributes = std::vector<attribute>;

/// Renders a value for humans (console output, JSON of scalar strings aside).
std::string to_string(const attribute_value& value);

}  // namespace prela
