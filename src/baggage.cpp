#include "prela/baggage.hpp"

#include <algorithm>
#include <iterator>

#include "detail/stable_sort_small.hpp"

namespace prela {

namespace {
/// Sorts entries by key and keeps one per key: the last given.
void sort_unique(detail::baggage_entries& entries) {
  detail::stable_sort_small(entries.begin(), entries.end(),
                            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto out = entries.begin();
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (out != entries.begin() && std::prev(out)->first == it->first) {
      *std::prev(out) = std::move(*it);  // a later value for the same key
    } else {
      if (out != it) *out = std::move(*it);
      ++out;
    }
  }
  entries.erase(out, entries.end());
}
}  // namespace

baggage::baggage(const std::map<std::string, std::string>& entries) {
  if (!entries.empty()) entries_ = std::make_shared<detail::baggage_entries>(entries.begin(), entries.end());
}

baggage::baggage(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
  if (entries.size() == 0) return;
  auto sorted = std::make_shared<detail::baggage_entries>();
  sorted->reserve(entries.size());
  for (const auto& [key, value] : entries) sorted->emplace_back(key, value);
  sort_unique(*sorted);
  entries_ = std::move(sorted);
}

std::map<std::string, std::string> baggage::to_map() const { return {begin(), end()}; }

bool operator==(const baggage& a, const baggage& b) noexcept {
  if (a.entries_ == b.entries_) return true;
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace prela
