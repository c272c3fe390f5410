#include "prela/baggage.hpp"

#include <algorithm>
#include <vector>

#include "detail/baggage_build.hpp"
#include "detail/stable_sort_small.hpp"

namespace prela {
namespace detail {

void baggage_entries::destroy(const baggage_entries* e) noexcept {
  e->~baggage_entries();  // the entries are views: nothing else to destroy
  ::operator delete(const_cast<baggage_entries*>(e));
}

}  // namespace detail

baggage::baggage(const std::map<std::string, std::string>& entries) {
  std::vector<detail::baggage_source> sources;
  sources.reserve(entries.size());
  for (const auto& [key, value] : entries) sources.push_back({key, value});
  entries_ = detail::baggage_builder::build(sources.data(), sources.size());
}

baggage::baggage(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
  std::vector<detail::baggage_source> sources;
  sources.reserve(entries.size());
  for (const auto& [key, value] : entries) sources.push_back({key, value});
  // Sorted by key, stable, so that of equal keys the last given comes last and wins.
  detail::stable_sort_small(sources.begin(), sources.end(),
                            [](const auto& a, const auto& b) { return a.key < b.key; });
  auto out = sources.begin();
  for (auto it = sources.begin(); it != sources.end(); ++it) {
    if (out != sources.begin() && std::prev(out)->key == it->key) {
      *std::prev(out) = *it;
    } else {
      *out++ = *it;
    }
  }
  sources.erase(out, sources.end());
  entries_ = detail::baggage_builder::build(sources.data(), sources.size());
}

std::map<std::string, std::string> baggage::to_map() const {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : *this) out.emplace_hint(out.end(), key, value);
  return out;
}

bool operator==(const baggage& a, const baggage& b) noexcept {
  if (a.entries_ == b.entries_) return true;
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace prela
