// Setting an attribute in a span's list: a key already there takes the new value; a new
// key past max_attributes_per_span is dropped and counted.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "prela/attributes.hpp"
#include "prela/span.hpp"

namespace prela::detail {

/// The attribute with this key, or null; const if `attrs` is.
template <class Attributes>
  requires std::same_as<std::remove_const_t<Attributes>, attributes>
auto* find_attribute(Attributes& attrs, std::string_view key) noexcept {
  for (auto& a : attrs) {
    if (a.key == key) return &a;
  }
  return static_cast<decltype(&attrs.front())>(nullptr);
}

inline void upsert(attributes& attrs, std::string_view key, attribute_value&& value, std::uint32_t& dropped) {
  if (attribute* a = find_attribute(attrs, key)) {
    a->value = std::move(value);
  } else if (attrs.size() < max_attributes_per_span) {
    attrs.push_back({std::string(key), std::move(value)});
  } else {
    ++dropped;
  }
}

/// The same for a whole attribute, whose key is moved in when it is new.
inline void upsert(attributes& attrs, attribute&& attr, std::uint32_t& dropped) {
  if (attribute* a = find_attribute(attrs, attr.key)) {
    a->value = std::move(attr.value);
  } else if (attrs.size() < max_attributes_per_span) {
    attrs.push_back(std::move(attr));
  } else {
    ++dropped;
  }
}

}  // namespace prela::detail
