// spdlog integration (target prela::spdlog, built when spdlog is found): pattern flags
// that print the trace and span ids of the flow that logs, and a sink that records
// warnings and errors as events on that flow's current span.
//
//   logger->set_formatter(prela::spdlog_formatter("%Y-%m-%d %H:%M:%S.%e [%l] trace=%* span=%~ %v"));
//
// The flags are read when the line is formatted, which spdlog's synchronous loggers (its
// default) do on the thread that logs, inside the coroutine that logs. An asynchronous
// logger formats on its worker thread, where no flow of the application is current:
// there the flags print nothing (see docs/observability.md).
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "prela/context.hpp"
#include "prela/log.hpp"
#include "prela/span.hpp"

namespace prela {

namespace detail {

/// A pattern flag printing one of the logging flow's ids; nothing outside a span.
template <bool TraceId>
class spdlog_id_flag final : public ::spdlog::custom_flag_formatter {
 public:
  void format(const ::spdlog::details::log_msg& /*msg*/, const std::tm& /*time*/,
              ::spdlog::memory_buf_t& dest) override {
    const log_fields f = current_log_fields();
    const std::string_view id = TraceId ? f.trace_id.view() : f.span_id.view();
    dest.append(id.data(), id.data() + id.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<spdlog_id_flag>();
  }
};

}  // namespace detail

/// Pattern flag: the logging flow's trace id (32 hex digits).
using spdlog_trace_id_flag = detail::spdlog_id_flag<true>;
/// Pattern flag: the logging flow's current span id (16 hex digits).
using spdlog_span_id_flag = detail::spdlog_id_flag<false>;

/// A pattern formatter for `pattern` (spdlog's syntax) in which `%*` is the trace id and
/// `%~` the span id of the flow that logs. For a formatter of your own, add the flags
/// with `add_flag<prela::spdlog_trace_id_flag>(c)`.
inline std::unique_ptr<::spdlog::pattern_formatter> spdlog_formatter(std::string pattern) {
  auto f = std::make_unique<::spdlog::pattern_formatter>();
  f->add_flag<spdlog_trace_id_flag>('*').add_flag<spdlog_span_id_flag>('~').set_pattern(std::move(pattern));
  return f;
}

/// A sink that writes nothing itself: each message at `min_level` or above (warn by
/// default) becomes an event named "log" on the logging flow's current span, with the
/// attributes `log.severity` (spdlog's level name) and `log.message`. Add it beside the
/// logger's other sinks; like the flags, it sees the flow only in synchronous loggers.
template <class Mutex>
class spdlog_span_event_sink final : public ::spdlog::sinks::base_sink<Mutex> {
 public:
  explicit spdlog_span_event_sink(::spdlog::level::level_enum min_level = ::spdlog::level::warn)
      : min_level_(min_level) {}

 protected:
  void sink_it_(const ::spdlog::details::log_msg& msg) override {
    if (msg.level < min_level_) return;
    span* s = current_span();
    if (s == nullptr) return;
    const auto level = ::spdlog::level::to_string_view(msg.level);
    s->add_event("log", {{"log.severity", std::string(level.data(), level.size())},
                         {"log.message", std::string(msg.payload.data(), msg.payload.size())}});
  }
  void flush_() override {}

 private:
  ::spdlog::level::level_enum min_level_;
};

using spdlog_span_event_sink_mt = spdlog_span_event_sink<std::mutex>;

}  // namespace prela
