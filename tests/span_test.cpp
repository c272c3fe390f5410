#define BOOST_TEST_MODULE span
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <thread>

#include "test_support.hpp"

using namespace prela;
using prela::testing::find;
using prela::testing::str;
using prela::testing::traced;

BOOST_AUTO_TEST_CASE(span_types_and_statuses_have_their_seed_names) {
  BOOST_TEST(to_string(span_type::agent) == "agent");
  BOOST_TEST(to_string(span_type::llm) == "llm");
  BOOST_TEST(to_string(span_type::tool) == "tool");
  BOOST_TEST(to_string(span_type::retrieval) == "retrieval");
  BOOST_TEST(to_string(span_type::embedding) == "embedding");
  BOOST_TEST(to_string(span_type::custom) == "custom");
  BOOST_TEST(to_string(span_status::error) == "error");
}

BOOST_AUTO_TEST_CASE(recorded_fields_reach_the_exporter) {
  traced t({.service_name = "svc"});
  {
    auto s = get_tracer().span("call", span_type::llm, {{"model", "m1"}, {"tokens", 3}});
    s->set_attribute("tokens", 7);  // overwrites
    s->set_attribute("temperature", 0.5);
    s->add_event("first_token", {{"latency_ms", 12}});
    s->set_status(span_status::ok);
    BOOST_TEST(s->name() == "call");
    BOOST_TEST((s->type() == span_type::llm));
    BOOST_TEST(s->is_sampled());
    BOOST_TEST(!s->is_ended());
    BOOST_TEST(!s->parent_span_id().is_valid());
  }
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 1U);
  const span_data& d = spans[0];
  BOOST_TEST(d.name == "call");
  BOOST_TEST((d.type == span_type::llm));
  BOOST_TEST((d.status == span_status::ok));
  BOOST_TEST(str(d.attribute("model")) == "m1");
  BOOST_TEST(std::get<std::int64_t>(d.attribute("tokens")->variant()) == 7);
  BOOST_TEST(d.attribute("missing") == nullptr);
  BOOST_TEST(d.attributes.size() == 3U);
  BOOST_REQUIRE(d.events.size() == 1U);
  BOOST_TEST(d.events[0].name == "first_token");
  BOOST_TEST((d.events[0].time >= d.start_time));
  BOOST_TEST((d.events[0].time <= d.end_time));
  BOOST_TEST((d.end_time >= d.start_time));
  BOOST_TEST(d.trace_id.is_valid());
  BOOST_TEST(d.span_id.is_valid());
  BOOST_REQUIRE(d.resource != nullptr);
  BOOST_TEST(d.resource->service_name == "svc");
  BOOST_TEST((d.trace_flags & trace_flag_sampled) != 0);
  BOOST_TEST((d.trace_flags & trace_flag_random) != 0);  // we generated the trace id
}

BOOST_AUTO_TEST_CASE(timestamps_are_wall_clock_nanoseconds) {
  traced t;
  const auto before = std::chrono::system_clock::now().time_since_epoch();
  {
    auto s = get_tracer().span("timed");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto after = std::chrono::system_clock::now().time_since_epoch();
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 1U);
  // Wall clock from a monotonic base: within a generous second of the system clock.
  BOOST_TEST((spans[0].start_time > before - std::chrono::seconds(1)));
  BOOST_TEST((spans[0].end_time < after + std::chrono::seconds(1)));
  BOOST_TEST((spans[0].duration() >= std::chrono::milliseconds(5)));
}

BOOST_AUTO_TEST_CASE(ok_status_is_final_and_only_errors_keep_a_message) {
  traced t;
  {
    auto a = get_tracer().span("a");
    a->set_status(span_status::ok, "ignored");
    a->set_status(span_status::error, "too late");
    auto b = get_tracer().span("b");
    b->set_status(span_status::error, "bad");
  }
  const auto spans = t.spans();
  BOOST_TEST((find(spans, "a")->status == span_status::ok));
  BOOST_TEST(find(spans, "a")->status_message.empty());
  BOOST_TEST((find(spans, "b")->status == span_status::error));
  BOOST_TEST(find(spans, "b")->status_message == "bad");
}

BOOST_AUTO_TEST_CASE(mutating_an_ended_span_is_a_counted_no_op) {
  traced t;
  const auto before = get_tracer().stats().mutations_after_end;
  auto h2 = get_tracer().start_span("kept");
  span* kept = &*h2;
  kept->end();
  BOOST_TEST(kept->is_ended());
  kept->set_attribute("k", 1);
  kept->add_event("e");
  kept->set_status(span_status::error, "x");
  kept->record_exception(std::runtime_error("late"));
  kept->end();  // ending twice ends once
  h2.end();
  BOOST_TEST(get_tracer().stats().mutations_after_end - before == 4U);
  const auto spans = t.spans();
  const span_data* d = find(spans, "kept");
  BOOST_REQUIRE(d != nullptr);
  BOOST_TEST(d->attributes.empty());
  BOOST_TEST(d->events.empty());
  BOOST_TEST((d->status == span_status::unset));
  BOOST_TEST(std::count_if(spans.begin(), spans.end(), [](const span_data& x) { return x.name == "kept"; }) ==
             1);
}

BOOST_AUTO_TEST_CASE(a_handle_gives_its_ended_span_until_it_goes_away) {
  // API.md: after end(), -> and * give the ended span, readable, its mutations counted
  // no-ops (this dereferenced null before).
  traced t;
  const auto before = get_tracer().stats().mutations_after_end;
  auto parent = get_tracer().span("parent");
  auto h = get_tracer().start_span("handled", span_type::tool);
  const span_id id = h->span_id();
  h.end();
  BOOST_TEST(h->is_ended());
  BOOST_TEST(h->span_id() == id);
  BOOST_TEST((*h).name() == "handled");
  BOOST_TEST(current_span() == &*parent);  // ended: no longer current
  h->set_attribute("late", 1);
  h->add_event("late");
  h.end();  // a second end() does nothing
  BOOST_TEST(get_tracer().stats().mutations_after_end - before == 2U);
  auto moved = std::move(h);  // the ended span moves with the handle
  BOOST_TEST(moved->span_id() == id);
  auto other = get_tracer().start_span("other");
  other = std::move(moved);  // ends "other", then holds the ended "handled"
  BOOST_TEST(other->span_id() == id);
  BOOST_TEST(current_span() == &*parent);
  const auto spans = t.spans();
  BOOST_TEST(
      std::count_if(spans.begin(), spans.end(), [](const span_data& x) { return x.name == "handled"; }) == 1);
  BOOST_TEST(
      std::count_if(spans.begin(), spans.end(), [](const span_data& x) { return x.name == "other"; }) == 1);
  BOOST_TEST(find(spans, "handled")->attributes.empty());
}

BOOST_AUTO_TEST_CASE(record_exception_names_the_dynamic_type) {
  traced t;
  {
    auto s = get_tracer().span("op");
    try {
      throw std::out_of_range("index 7");
    } catch (const std::exception& e) {
      s->record_exception(e);
    }
  }
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 1U);
  BOOST_TEST((spans[0].status == span_status::error));
  BOOST_TEST(spans[0].status_message == "index 7");
  BOOST_TEST(str(spans[0].attribute("error.type")) == "std::out_of_range");
  BOOST_TEST(str(spans[0].attribute("error.message")) == "index 7");
  BOOST_REQUIRE(spans[0].events.size() == 1U);
  BOOST_TEST(spans[0].events[0].name == "exception");
}

namespace {
struct custom_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_scope_left_by_an_exception_records_it) {
  traced t;
  try {
    auto s = get_tracer().span("failing", span_type::tool);
    throw custom_error("tool broke");
  } catch (const custom_error&) {
  }
  try {
    auto s = get_tracer().span("from_the_library");
    std::vector<int> v;
    (void)v.at(5);  // thrown inside libstdc++
  } catch (const std::out_of_range&) {
  }
  try {
    auto s = get_tracer().span("not_std");
    throw 42;
  } catch (int) {
  }
  const auto spans = t.spans();
  const span_data* f = find(spans, "failing");
  BOOST_REQUIRE(f != nullptr);
  BOOST_TEST((f->status == span_status::error));
  BOOST_TEST(str(f->attribute("error.type")).find("custom_error") != std::string::npos);
  BOOST_TEST(str(f->attribute("error.message")) == "tool broke");
  BOOST_TEST(f->status_message == "tool broke");
  BOOST_TEST(str(find(spans, "from_the_library")->attribute("error.type")) == "std::out_of_range");
  BOOST_TEST(str(find(spans, "not_std")->attribute("error.type")) == "int");
}

BOOST_AUTO_TEST_CASE(a_scope_left_normally_inside_a_catch_block_is_not_an_error) {
  traced t;
  try {
    throw std::runtime_error("handled");
  } catch (const std::exception&) {
    auto s = get_tracer().span("in_handler");
  }
  const auto spans = t.spans();
  BOOST_TEST((find(spans, "in_handler")->status == span_status::unset));
}

namespace {
// Opens (and leaves normally) a scope from a destructor that runs during unwinding.
struct traces_in_destructor {
  ~traces_in_destructor() { auto s = get_tracer().span("cleanup_during_unwind"); }
};
}  // namespace

// The exception check compares the C++ runtime's count of exceptions in flight at the
// scope's start and end, per thread; these are the cases where the count is not zero.
BOOST_AUTO_TEST_CASE(exceptions_in_flight_around_a_scope_are_told_apart) {
  traced t;
  // On a fresh thread, so that prela first looks up the thread's exception globals
  // while an exception is already unwinding.
  std::thread([] {
    try {
      traces_in_destructor cleanup;  // prela's first use on this thread
      throw std::runtime_error("boom");
    } catch (const std::exception&) {
    }
    try {
      auto outer = get_tracer().span("outer_unwound");
      traces_in_destructor cleanup;
      throw std::runtime_error("boom");
    } catch (const std::exception&) {
    }
  }).join();
  std::thread([] {
    try {
      throw std::runtime_error("first");
    } catch (const std::exception&) {
      try {
        auto inner = get_tracer().span("fails_inside_handler");
        throw std::logic_error("second");
      } catch (const std::logic_error&) {
      }
    }
  }).join();
  const auto spans = t.spans();
  int cleanups = 0;
  for (const auto& s : spans) {
    if (s.name != "cleanup_during_unwind") continue;
    ++cleanups;
    BOOST_TEST((s.status == span_status::unset));
  }
  BOOST_TEST(cleanups == 2);
  BOOST_TEST((find(spans, "outer_unwound")->status == span_status::error));
  BOOST_TEST(find(spans, "outer_unwound")->status_message == "boom");
  BOOST_TEST((find(spans, "fails_inside_handler")->status == span_status::error));
  BOOST_TEST(find(spans, "fails_inside_handler")->status_message == "second");
}

BOOST_AUTO_TEST_CASE(attribute_and_event_limits_are_counted) {
  traced t;
  {
    auto s = get_tracer().span("big");
    for (int i = 0; i < 200; ++i) s->set_attribute("k" + std::to_string(i), i);
    for (int i = 0; i < 150; ++i) s->add_event("e");
  }
  const auto spans = t.spans();
  BOOST_TEST(spans[0].attributes.size() == max_attributes_per_span);
  BOOST_TEST(spans[0].dropped_attributes == 200U - max_attributes_per_span);
  BOOST_TEST(spans[0].events.size() == max_events_per_span);
  BOOST_TEST(spans[0].dropped_events == 150U - max_events_per_span);
}

BOOST_AUTO_TEST_CASE(several_threads_annotate_one_span) {
  traced t;
  {
    auto s = get_tracer().span("shared");
    span* raw = &*s;
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([raw, i] {
        for (int j = 0; j < 1000; ++j) raw->set_attribute("t" + std::to_string(i), j);
        raw->add_event("from thread");
      });
    }
    for (auto& th : threads) th.join();
  }
  const auto spans = t.spans();
  BOOST_TEST(spans[0].attributes.size() == 4U);
  BOOST_TEST(spans[0].events.size() == 4U);
}
