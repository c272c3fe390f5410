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
