// The demo passes when its verification finds 0 orphans, 0 cross-trace parents and one
// root per trace; these cases show that the check would see each kind of breakage.
#define BOOST_TEST_MODULE demo_verify
#include <boost/test/unit_test.hpp>

#include <vector>

#include "prela/span.hpp"
#include "verify.hpp"

using namespace prela;

namespace {

span_data make(trace_id t, span_id id, span_id parent = {}, bool remote = false) {
  span_data s;
  s.trace_id = t;
  s.span_id = id;
  s.parent_span_id = parent;
  s.parent_is_remote = remote;
  return s;
}

// root -> a -> b, root -> c (c continued from headers)
std::vector<span_data> healthy_trace(trace_id t) {
  const span_id root = span_id::generate();
  const span_id a = span_id::generate();
  return {make(t, root), make(t, a, root), make(t, span_id::generate(), a),
          make(t, span_id::generate(), root, true)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(healthy_traces_pass) {
  auto spans = healthy_trace(trace_id::generate());
  const auto more = healthy_trace(trace_id::generate());
  spans.insert(spans.end(), more.begin(), more.end());
  const demo::trace_check c = demo::check_traces(spans);
  BOOST_TEST(c.spans == 8U);
  BOOST_TEST(c.traces == 2U);
  BOOST_TEST(c.roots == 2U);
  BOOST_TEST(c.traces_not_one_root == 0U);
  BOOST_TEST(c.orphans == 0U);
  BOOST_TEST(c.cross_trace == 0U);
  BOOST_TEST(c.remote_parents == 2U);
  BOOST_TEST(c.max_depth == 3U);
  BOOST_TEST(c.min_spans_per_trace == 4U);
  BOOST_TEST(c.max_spans_per_trace == 4U);
}

BOOST_AUTO_TEST_CASE(a_missing_parent_is_an_orphan) {
  auto spans = healthy_trace(trace_id::generate());
  spans.push_back(make(spans[0].trace_id, span_id::generate(), span_id::generate()));
  const demo::trace_check c = demo::check_traces(spans);
  BOOST_TEST(c.orphans == 1U);
  BOOST_TEST(c.min_spans_per_trace == 5U);
}

BOOST_AUTO_TEST_CASE(a_parent_in_another_trace_is_counted) {
  auto one = healthy_trace(trace_id::generate());
  auto two = healthy_trace(trace_id::generate());
  two.push_back(make(two[0].trace_id, span_id::generate(), one[1].span_id));  // wrong trace
  one.insert(one.end(), two.begin(), two.end());
  const demo::trace_check c = demo::check_traces(one);
  BOOST_TEST(c.cross_trace == 1U);
  BOOST_TEST(c.orphans == 0U);
  BOOST_TEST(c.min_spans_per_trace == 4U);
  BOOST_TEST(c.max_spans_per_trace == 5U);
}

BOOST_AUTO_TEST_CASE(a_request_split_into_two_roots_is_seen) {
  // What losing the context at a co_await looks like: part of a request starts a trace
  // of its own, so there are more roots (and traces) than requests.
  auto spans = healthy_trace(trace_id::generate());
  spans.push_back(make(spans[0].trace_id, span_id::generate()));  // a second root, same trace
  const demo::trace_check c = demo::check_traces(spans);
  BOOST_TEST(c.roots == 2U);
  BOOST_TEST(c.traces == 1U);
  BOOST_TEST(c.traces_not_one_root == 1U);
}

BOOST_AUTO_TEST_CASE(the_example_is_a_trace_with_an_error) {
  auto spans = healthy_trace(trace_id::generate());
  auto failing = healthy_trace(trace_id::generate());
  failing[2].status = span_status::error;
  spans.insert(spans.end(), failing.begin(), failing.end());
  const demo::trace_check c = demo::check_traces(spans);
  BOOST_TEST(c.errors == 1U);
  BOOST_REQUIRE(c.example.has_value());
  BOOST_TEST((*c.example == failing[0].trace_id));
}
