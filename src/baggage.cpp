#include "prela/baggage.hpp"

#include <algorithm>
#include <iterator>

namespace prela {

namespace detail {
void sort_unique(baggage_entries& entries) {
  // Stable, so that of equal keys the last given stays last, and is the one kept.
  // Baggage is short and usually sent sorted: an insertion sort allocates nothing and
  // does no moves then.
  const auto less = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (entries.size() <= 32) {
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it == entries.begin() || !less(*it, *std::prev(it))) continue;
      auto entry = std::move(*it);
      auto hole = it;
      do {
        *hole = std::move(*std::prev(hole));
        --hole;
      } while (hole != entries.begin() && less(entry, *std::prev(hole)));
      *hole = std::move(entry);
    }
  } else {
    std::stable_sort(entries.begin(), entries.end(), less);
  }
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
}  // namespace detail

baggage::baggage(const std::map<std::string, std::string>& entries) {
  if (!entries.empty()) entries_ = std::make_shared<detail::baggage_entries>(entries.begin(), entries.end());
}

baggage::baggage(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
  if (entries.size() == 0) return;
  auto sorted = std::make_shared<detail::baggage_entries>();
  sorted->reserve(entries.size());
  for (const auto& [key, value] : entries) sorted->emplace_back(key, value);
  detail::sort_unique(*sorted);
  entries_ = std::move(sorted);
}

std::map<std::string, std::string> baggage::to_map() const { return {begin(), end()}; }

bool operator==(const baggage& a, const baggage& b) noexcept {
  if (a.entries_ == b.entries_) return true;
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace prela
