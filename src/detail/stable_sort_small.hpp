// A stable sort for the short lists a request carries (baggage members): an insertion
// sort up to 32 elements, which allocates nothing and moves nothing when the list is
// already sorted; std::stable_sort beyond.
#pragma once

#include <algorithm>
#include <iterator>
#include <utility>

namespace prela::detail {

template <class It, class Less>
void stable_sort_small(It first, It last, Less less) {
  if (last - first > 32) {
    std::stable_sort(first, last, less);
    return;
  }
  for (It i = first; i != last; ++i) {
    if (i == first || !less(*i, *std::prev(i))) continue;
    auto value = std::move(*i);
    It hole = i;
    do {
      *hole = std::move(*std::prev(hole));
      --hole;
    } while (hole != first && less(value, *std::prev(hole)));
    *hole = std::move(value);
  }
}

}  // namespace prela::detail
