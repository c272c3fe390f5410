#include "prela/span.hpp"

#include <algorithm>
#include <mutex>
#include <utility>

#include "detail/attribute_set.hpp"
#include "detail/exception_info.hpp"
#include "detail/tracer_impl.hpp"
#include "prela/clock.hpp"

namespace prela {

std::string_view to_string(span_type type) noexcept {
  switch (type) {
    case span_type::agent:
      return "agent";
    case span_type::llm:
      return "llm";
    case span_type::tool:
      return "tool";
    case span_type::retrieval:
      return "retrieval";
    case span_type::embedding:
      return "embedding";
    case span_type::custom:
      return "custom";
  }
  return "custom";
}

std::string_view to_string(span_status status) noexcept {
  switch (status) {
    case span_status::unset:
      return "unset";
    case span_status::ok:
      return "ok";
    case span_status::error:
      return "error";
  }
  return "unset";
}

const attribute_value* span_data::attribute(std::string_view key) const noexcept {
  const prela::attribute* a = detail::find_attribute(attributes, key);
  return a != nullptr ? &a->value : nullptr;
}

bool span::begin_mutation() {
  if (ended_.load(std::memory_order_acquire)) {
    detail::span_factory::count_mutation_after_end(*this);
    return false;
  }
  if (!recording_) return false;
  mu_.lock();
  if (ended_.load(std::memory_order_relaxed)) {  // lost a race with end()
    mu_.unlock();
    detail::span_factory::count_mutation_after_end(*this);
    return false;
  }
  return true;
}

void span::set_attribute(std::string_view key, attribute_value value) {
  if (!begin_mutation()) return;
  std::lock_guard lock(mu_, std::adopt_lock);
  detail::upsert(attributes_, key, std::move(value), dropped_attributes_);
}

void span::add_event(std::string_view name, prela::attributes attrs) {
  if (!begin_mutation()) return;
  std::lock_guard lock(mu_, std::adopt_lock);
  if (events_.size() >= max_events_per_span) {
    ++dropped_events_;
    return;
  }
  events_.push_back({std::string(name), now_since_epoch(), std::move(attrs)});
}

void span::set_status(span_status status, std::string_view message) {
  if (!begin_mutation()) return;
  std::lock_guard lock(mu_, std::adopt_lock);
  // As in OpenTelemetry: ok is final, and a description only accompanies an error.
  if (status_ == span_status::ok) return;
  status_ = status;
  status_message_ = status == span_status::error ? std::string(message) : std::string();
}

void span::record_error(std::string_view type, std::string_view message) {
  if (!begin_mutation()) return;
  std::lock_guard lock(mu_, std::adopt_lock);
  status_ = span_status::error;
  status_message_ = std::string(message);
  detail::upsert(attributes_, "error.type", attribute_value(type), dropped_attributes_);
  detail::upsert(attributes_, "error.message", attribute_value(message), dropped_attributes_);
  if (events_.size() < max_events_per_span) {
    events_.push_back({"exception",
                       now_since_epoch(),
                       {{"exception.type", std::string(type)}, {"exception.message", std::string(message)}}});
  } else {
    ++dropped_events_;
  }
}

void span::record_exception(const std::exception& e) {
  if constexpr (!instrumented) return;
  record_error(detail::demangle(typeid(e).name()), e.what());
}

void span::record_exception(std::exception_ptr e) {
  if constexpr (!instrumented) return;
  const detail::exception_info info = detail::describe(e);
  record_error(info.type, info.message);
}

void span::end() noexcept {
  if constexpr (!instrumented) return;  // only detail::inert_span() exists
  if (recording_) {
    {
      std::lock_guard lock(mu_);
      if (ended_.load(std::memory_order_relaxed)) return;
      end_time_ = std::max(now_since_epoch(), start_time_);
      ended_.store(true, std::memory_order_release);
    }
    detail::span_factory::close_inflight(*this);
    // Ended under mu_: every mutator now sees ended_ and leaves the span alone. The
    // record is built here, on the ending thread, straight into the queue; the export
    // thread never touches span objects.
    detail::span_factory::on_end_recording(*this);
    return;
  }
  {
    // Not recording: nothing to order with, so no locked instruction. Two threads
    // ending the same unsampled span at the same instant may both count it as ended.
    if (ended_.load(std::memory_order_acquire)) return;
    ended_.store(true, std::memory_order_release);
  }
  detail::span_factory::close_inflight(*this);
  detail::span_factory::on_end(*this);
}

void span::destroy() noexcept { detail::span_factory::recycle(this); }

span& detail::inert_span() noexcept {
  // Not recording and never ended, so every mutator returns at once; never destroyed,
  // so spans ended during static destruction still find it.
  static span* const inert = new span();
  return *inert;
}

#if PRELA_INSTRUMENTATION
const char detail::library_built_with_instrumentation = 1;
#else
const char detail::library_built_without_instrumentation = 0;
#endif

}  // namespace prela
