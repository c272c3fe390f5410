// A minimal intrusive reference-counted pointer. The pointee provides
// `add_ref()` and `release()` (which destroys it at zero). Eight bytes, so that
// executors carrying a context stay small enough for Asio's inline storage.
#pragma once

#include <cstddef>
#include <utility>

namespace prela::detail {

template <class T>
class ref_ptr {
 public:
  constexpr ref_ptr() noexcept = default;
  constexpr ref_ptr(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
  /// Adopts one reference already counted for the caller.
  static ref_ptr adopt(T* p) noexcept {
    ref_ptr r;
    r.p_ = p;
    return r;
  }
  /// Takes a new reference.
  explicit ref_ptr(T* p) noexcept : p_(p) {
    if (p_ != nullptr) p_->add_ref();
  }
  ref_ptr(const ref_ptr& o) noexcept : p_(o.p_) {
    if (p_ != nullptr) p_->add_ref();
  }
  ref_ptr(ref_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  ref_ptr& operator=(const ref_ptr& o) noexcept {
    ref_ptr(o).swap(*this);
    return *this;
  }
  ref_ptr& operator=(ref_ptr&& o) noexcept {
    ref_ptr(std::move(o)).swap(*this);
    return *this;
  }
  ~ref_ptr() {
    if (p_ != nullptr) p_->release();
  }

  void swap(ref_ptr& o) noexcept { std::swap(p_, o.p_); }
  void reset() noexcept { ref_ptr().swap(*this); }
  /// Gives up ownership without releasing.
  T* detach() noexcept { return std::exchange(p_, nullptr); }

  [[nodiscard]] T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  friend bool operator==(const ref_ptr& a, const ref_ptr& b) noexcept { return a.p_ == b.p_; }
  friend bool operator==(const ref_ptr& a, std::nullptr_t) noexcept { return a.p_ == nullptr; }

 private:
  T* p_ = nullptr;
};

}  // namespace prela::detail
