// prela::baggage: the key/value entries that travel with a trace, as a value.
#pragma once

#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prela {

class baggage;

namespace detail {
/// Baggage entries sorted by key, unique keys. Immutable once shared: contexts, their
/// forks, remote_context and every prela::baggage copy share one until a context changes
/// its baggage (which installs a new copy). It also keeps the entries' W3C baggage
/// header once inject() has encoded it, so a service passing the same baggage to every
/// downstream call encodes it once.
class baggage_entries : public std::vector<std::pair<std::string, std::string>> {
 public:
  using vector::vector;
  baggage_entries() = default;
  baggage_entries(const baggage_entries& other) : vector(other) {}  // without the header
  baggage_entries& operator=(const baggage_entries&) = delete;
  ~baggage_entries() = default;

  /// The encoded header, or nullptr before the first inject() has kept one.
  [[nodiscard]] const std::string* header() const noexcept {
    return header_state_.load(std::memory_order_acquire) == header_ready ? &header_ : nullptr;
  }
  /// Runs encode(std::string&) to fill the header and keeps it, unless another thread is
  /// doing so or has done so (forks on several threads may inject the same entries at
  /// once); returns false then, and the caller encodes into a buffer of its own.
  template <class Encode>
  bool keep_header(Encode&& encode) const {
    int expected = header_none;
    if (!header_state_.compare_exchange_strong(expected, header_writing, std::memory_order_acquire)) {
      return false;
    }
    try {
      encode(header_);
    } catch (...) {
      header_.clear();
      header_state_.store(header_none, std::memory_order_release);
      throw;
    }
    header_state_.store(header_ready, std::memory_order_release);
    return true;
  }

 private:
  static constexpr int header_none = 0;
  static constexpr int header_writing = 1;
  static constexpr int header_ready = 2;
  mutable std::string header_;
  mutable std::atomic<int> header_state_{header_none};
};

/// Reaches the shared entries behind a prela::baggage (for contexts and propagation).
struct baggage_access;
}  // namespace detail

/// Baggage entries (W3C Baggage), as an immutable value: copies share one storage, so
/// copying, storing in a remote_context and continuing a trace with it cost a reference
/// count, not the entries. Entries are kept sorted by key, one per key.
///
///     prela::baggage b{{"tenant", "acme"}, {"plan", "pro"}};
///     for (const auto& [key, value] : b) { ... }  // "plan" first
///     std::optional<std::string_view> t = b.get("tenant");
///
/// Views returned by get() and iteration stay valid as long as some prela::baggage (or
/// context) holds the same entries.
class baggage {
 public:
  /// An entry: `first` is the key, `second` the value.
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;
  using iterator = const_iterator;
  using size_type = std::size_t;

  baggage() noexcept = default;
  /// The map's entries (a std::map is already sorted and unique).
  baggage(const std::map<std::string, std::string>&
              entries);  // NOLINT(google-explicit-constructor): a value conversion
  /// `{{"k", "v"}, ...}`; when a key repeats, its last value wins.
  baggage(std::initializer_list<std::pair<std::string_view, std::string_view>> entries);

  [[nodiscard]] size_type size() const noexcept { return entries_ ? entries_->size() : 0; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] const_iterator begin() const noexcept {
    return entries_ ? entries_->begin() : const_iterator();
  }
  [[nodiscard]] const_iterator end() const noexcept { return entries_ ? entries_->end() : const_iterator(); }

  /// The value of `key`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view key) const noexcept {
    if (const value_type* e = find(key)) return std::string_view(e->second);
    return std::nullopt;
  }
  [[nodiscard]] bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  [[nodiscard]] std::map<std::string, std::string> to_map() const;

  /// Same entries (in the same order, since both are sorted).
  friend bool operator==(const baggage& a, const baggage& b) noexcept;

 private:
  friend struct detail::baggage_access;
  explicit baggage(std::shared_ptr<const detail::baggage_entries> entries) noexcept
      : entries_(std::move(entries)) {}

  const value_type* find(std::string_view key) const noexcept {
    if (!entries_) return nullptr;
    // Baggage is small: a linear scan comparing lengths first beats a binary search of
    // string comparisons.
    for (const auto& e : *entries_) {
      if (e.first.size() == key.size() && std::string_view(e.first) == key) return &e;
    }
    return nullptr;
  }

  std::shared_ptr<const detail::baggage_entries> entries_;
};

namespace detail {
struct baggage_access {
  static baggage make(std::shared_ptr<const baggage_entries> entries) noexcept {
    if (entries && entries->empty()) entries.reset();
    return baggage(std::move(entries));
  }
  static const std::shared_ptr<const baggage_entries>& entries(const baggage& b) noexcept {
    return b.entries_;
  }
};
}  // namespace detail

}  // namespace prela
