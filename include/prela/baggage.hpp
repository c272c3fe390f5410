// prela::baggage: the key/value entries that travel with a trace, as a value.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "prela/detail/ref_ptr.hpp"

namespace prela {

class baggage;

namespace detail {
/// Baggage entries sorted by key, unique keys, in one allocation: the entries (views),
/// the text they view, the length each entry takes in a W3C baggage header, and room
/// for that header. Immutable once built: contexts, their forks, remote_context and
/// every prela::baggage copy share one until a context changes its baggage (which
/// builds new storage). When every entry goes into the header as it is, the text is the
/// header ("k1=v1,k2=v2") and the entries view into it; otherwise the header is written
/// into its room by the first inject() that needs it. Either way a service passing the
/// same baggage to every downstream call encodes it at most once. Built by
/// detail::baggage_builder (src/detail/baggage_build.hpp).
class baggage_entries {
 public:
  using value_type = std::pair<std::string_view, std::string_view>;

  baggage_entries(const baggage_entries&) = delete;
  baggage_entries& operator=(const baggage_entries&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// The entries start right after this object, in the same block: their address is
  /// computed, not loaded, which keeps get_baggage() one dependent load shorter.
  [[nodiscard]] const value_type* begin() const noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the builder placed them there
    return std::launder(
        reinterpret_cast<const value_type*>(reinterpret_cast<const char*>(this) + sizeof(*this)));
  }
  [[nodiscard]] const value_type* end() const noexcept { return begin() + size_; }

  /// How many characters entry `i` takes in the W3C header ("key=value", escaped); 0
  /// when it is not written (its key is not a token, or it is longer than the header).
  [[nodiscard]] std::uint16_t encoded_size(std::size_t i) const noexcept { return encoded_[i]; }
  [[nodiscard]] const std::uint16_t* encoded_sizes() const noexcept { return encoded_; }
  /// The length of the whole W3C header for these entries; 0 when nothing is written.
  [[nodiscard]] std::size_t header_size() const noexcept { return header_size_; }

  /// The encoded header once written, else nullptr.
  [[nodiscard]] const char* header() const noexcept {
    return header_state_.load(std::memory_order_acquire) == header_ready ? header_ : nullptr;
  }
  /// Claims the header's room for writing: true for one caller only, which then writes
  /// header_size() characters into header_room() and calls publish_header(). Others
  /// (forks on several threads injecting the same entries at once) encode into a
  /// buffer of their own instead of waiting.
  [[nodiscard]] bool claim_header() const noexcept {
    int expected = header_none;
    return header_state_.compare_exchange_strong(expected, header_writing, std::memory_order_acquire,
                                                 std::memory_order_relaxed);
  }
  [[nodiscard]] char* header_room() const noexcept { return header_; }
  void publish_header() const noexcept { header_state_.store(header_ready, std::memory_order_release); }

  void add_ref() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() const noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(this);
  }

 private:
  friend struct baggage_builder;
  baggage_entries() = default;
  ~baggage_entries() = default;
  static void destroy(const baggage_entries* e) noexcept;

  static constexpr int header_none = 0;
  static constexpr int header_writing = 1;
  static constexpr int header_ready = 2;
  mutable std::atomic<std::uint32_t> refs_{1};
  std::uint32_t size_ = 0;
  std::uint32_t header_size_ = 0;
  mutable std::atomic<int> header_state_{header_none};
  const std::uint16_t* encoded_ = nullptr;
  char* header_ = nullptr;
};

using baggage_ref = ref_ptr<const baggage_entries>;

/// Reaches the shared entries behind a prela::baggage (for contexts and propagation).
struct baggage_access;
}  // namespace detail

/// Baggage entries (W3C Baggage), as an immutable value: copies share one storage, so
/// copying, storing in a remote_context and continuing a trace with it cost a reference
/// count, not the entries. Entries are kept sorted by key, one per key.
///
///     prela::baggage b{{"tenant", "acme"}, {"plan", "pro"}};
///     for (const auto& [key, value] : b) { ... }  // "plan" first; both std::string_view
///     std::optional<std::string_view> t = b.get("tenant");
///
/// Views returned by get() and iteration stay valid as long as some prela::baggage (or
/// context) holds the same entries.
class baggage {
 public:
  /// An entry: `first` is the key, `second` the value.
  using value_type = std::pair<std::string_view, std::string_view>;
  using const_iterator = const value_type*;
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
  [[nodiscard]] const_iterator begin() const noexcept { return entries_ ? entries_->begin() : nullptr; }
  [[nodiscard]] const_iterator end() const noexcept { return entries_ ? entries_->end() : nullptr; }

  /// The value of `key`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view key) const noexcept {
    if (const value_type* e = find(key)) return e->second;
    return std::nullopt;
  }
  [[nodiscard]] bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  [[nodiscard]] std::map<std::string, std::string> to_map() const;

  /// Same entries (in the same order, since both are sorted).
  friend bool operator==(const baggage& a, const baggage& b) noexcept;

 private:
  friend struct detail::baggage_access;
  explicit baggage(detail::baggage_ref entries) noexcept : entries_(std::move(entries)) {}

  const value_type* find(std::string_view key) const noexcept {
    // Baggage is small: a linear scan comparing lengths first beats a binary search of
    // string comparisons.
    for (const value_type& e : *this) {
      if (e.first.size() == key.size() && e.first == key) return &e;
    }
    return nullptr;
  }

  detail::baggage_ref entries_;
};

namespace detail {
struct baggage_access {
  static baggage make(baggage_ref entries) noexcept {
    if (entries && entries->empty()) entries.reset();
    return baggage(std::move(entries));
  }
  static const baggage_ref& entries(const baggage& b) noexcept { return b.entries_; }
  static baggage_ref take(baggage&& b) noexcept { return std::move(b.entries_); }
};
}  // namespace detail

}  // namespace prela
