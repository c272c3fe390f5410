// Boost.Log integration (target prela::boost_log, built when Boost.Log is found):
// attributes whose values are the trace and span ids of the flow that logs.
//
//   prela::add_boost_log_attributes();  // "TraceId" and "SpanId", on every record
//   sink->set_formatter(expr::stream << expr::attr<std::string>("TraceId") << ' '
//                                    << expr::attr<std::string>("SpanId") << ' ' << expr::smessage);
//
// Boost.Log takes attribute values when a record is opened, on the thread that logs,
// so the ids are those of the logging coroutine with synchronous and asynchronous sinks
// alike. Outside a span the attributes have no value (a formatter prints nothing).
#pragma once

#include <boost/log/attributes/attribute.hpp>
#include <boost/log/attributes/attribute_value.hpp>
#include <boost/log/attributes/attribute_value_impl.hpp>
#include <boost/log/core/core.hpp>

#include <string>
#include <string_view>

#include "prela/log.hpp"

namespace prela {

/// A Boost.Log attribute: the logging flow's trace id or current span id, as a
/// std::string of hex digits.
class boost_log_id_attribute : public boost::log::attribute {
 public:
  enum class which { trace_id, span_id };

  explicit boost_log_id_attribute(which w) : boost::log::attribute(new impl(w)) {}

 private:
  class impl final : public boost::log::attribute::impl {
   public:
    explicit impl(which w) : which_(w) {}
    boost::log::attribute_value get_value() override {
      const log_fields f = current_log_fields();
      const std::string_view id = which_ == which::trace_id ? f.trace_id.view() : f.span_id.view();
      if (id.empty()) return {};
      return boost::log::attributes::make_attribute_value(std::string(id));
    }

   private:
    which which_;
  };
};

/// Adds the global attributes "TraceId" and "SpanId" to `core` (Boost.Log's own by
/// default), so that every record carries the ids of the flow that logs it.
inline void add_boost_log_attributes(const boost::log::core_ptr& core = boost::log::core::get()) {
  core->add_global_attribute("TraceId", boost_log_id_attribute(boost_log_id_attribute::which::trace_id));
  core->add_global_attribute("SpanId", boost_log_id_attribute(boost_log_id_attribute::which::span_id));
}

}  // namespace prela
