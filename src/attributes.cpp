#include "prela/attributes.hpp"

#include <sstream>

namespace prela {
namespace {
template <class T>
void put(std::ostringstream& os, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "true" : "false");
  } else {
    os << v;
  }
}
}  // namespace

attribute_value::attribute_value() : attribute_variant(false) {}
attribute_value::attribute_value(bool v) : attribute_variant(v) {}
attribute_value::attribute_value(const char* v) : attribute_variant(std::string(v != nullptr ? v : "")) {}
attribute_value::attribute_value(std::string_view v) : attribute_variant(std::string(v)) {}
attribute_value::attribute_value(std::string v) : attribute_variant(std::move(v)) {}
attribute_value::attribute_value(std::vector<bool> v) : attribute_variant(std::move(v)) {}
attribute_value::attribute_value(std::vector<std::int64_t> v) : attribute_variant(std::move(v)) {}
attribute_value::attribute_value(std::vector<double> v) : attribute_variant(std::move(v)) {}
attribute_value::attribute_value(std::vector<std::string> v) : attribute_variant(std::move(v)) {}
attribute_value::attribute_value(std::initializer_list<const char*> v)
    : attribute_variant(std::vector<std::string>(v.begin(), v.end())) {}
attribute_value::attribute_value(std::initializer_list<std::string> v)
    : attribute_variant(std::vector<std::string>(v)) {}
attribute_value::attribute_value(std::initializer_list<int> v)
    : attribute_variant(std::vector<std::int64_t>(v.begin(), v.end())) {}
attribute_value::attribute_value(std::initializer_list<std::int64_t> v)
    : attribute_variant(std::vector<std::int64_t>(v)) {}
attribute_value::attribute_value(std::initializer_list<double> v)
    : attribute_variant(std::vector<double>(v)) {}
attribute_value::attribute_value(std::initializer_list<bool> v) : attribute_variant(std::vector<bool>(v)) {}

bool operator==(const attribute& a, const attribute& b) {
  return a.key == b.key && a.value.variant() == b.value.variant();
}

std::string to_string(const attribute_value& value) {
  std::ostringstream os;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          os << v;
        } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> ||
                             std::is_same_v<T, double>) {
          put(os, v);
        } else {
          os << '[';
          bool first = true;
          for (const auto& e : v) {
            if (!first) os << ", ";
            first = false;
            put(os, static_cast<typename T::value_type>(e));
          }
          os << ']';
        }
      },
      value.variant());
  return os.str();
}

}  // namespace prela
