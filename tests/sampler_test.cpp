#define BOOST_TEST_MODULE sampler
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <thread>

#include "prela/sampler.hpp"

using namespace prela;

namespace {
sampling_parameters root(trace_id id = trace_id::generate()) {
  sampling_parameters p;
  p.trace_id = id;
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(constant_samplers) {
  BOOST_TEST(always_on()->should_sample(root()));
  BOOST_TEST(!always_off()->should_sample(root()));
  BOOST_TEST(always_on()->description() == "always_on");
}

BOOST_AUTO_TEST_CASE(invalid_rates_are_rejected) {
  BOOST_CHECK_THROW(probability(-0.1), std::invalid_argument);
  BOOST_CHECK_THROW(probability(1.5), std::invalid_argument);
  BOOST_CHECK_THROW(probability(std::nan("")), std::invalid_argument);
  BOOST_CHECK_THROW(rate_limiting(-1), std::invalid_argument);
  BOOST_CHECK_THROW(rate_limiting(std::numeric_limits<double>::infinity()), std::invalid_argument);
  BOOST_CHECK_THROW(rate_limiting(std::nan("")), std::invalid_argument);
  BOOST_CHECK_THROW(parent_based(nullptr), std::invalid_argument);
  BOOST_CHECK_NO_THROW(probability(0));
  BOOST_CHECK_NO_THROW(probability(1));
  BOOST_CHECK_NO_THROW(rate_limiting(0));
}

BOOST_AUTO_TEST_CASE(probability_is_deterministic_on_the_trace_id) {
  auto a = probability(0.3);
  auto b = probability(0.3);  // "another service"
  int sampled = 0;
  constexpr int n = 100000;
  for (int i = 0; i < n; ++i) {
    const auto p = root();
    const bool da = a->should_sample(p);
    BOOST_REQUIRE(da == b->should_sample(p));
    BOOST_REQUIRE(da == a->should_sample(p));
    sampled += da ? 1 : 0;
  }
  BOOST_TEST(std::abs(sampled - 30000) < 1000);  // 0.3 +- ~6 sigma
  for (int i = 0; i < 1000; ++i) {
    BOOST_REQUIRE(probability(1.0)->should_sample(root()));
    BOOST_REQUIRE(!probability(0.0)->should_sample(root()));
  }
}

BOOST_AUTO_TEST_CASE(probability_uses_the_lower_56_bits_as_opentelemetry_does) {
  // Threshold for p = 0.5 is 2^55: randomness at or above it is sampled.
  auto half = probability(0.5);
  BOOST_TEST(half->should_sample(root(trace_id(0, std::uint64_t{1} << 55))));
  BOOST_TEST(!half->should_sample(root(trace_id(~0ULL, (std::uint64_t{1} << 55) - 1))));
  // The top byte of the low half is not part of the randomness.
  BOOST_TEST(!half->should_sample(root(trace_id(0, 0xff00000000000001ULL))));
}

BOOST_AUTO_TEST_CASE(rate_limiting_allows_a_burst_then_the_rate) {
  auto s = rate_limiting(100);
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += s->should_sample(root()) ? 1 : 0;
  BOOST_TEST(allowed >= 100);  // one second's worth at once
  BOOST_TEST(allowed <= 102);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int later = 0;
  for (int i = 0; i < 1000; ++i) later += s->should_sample(root()) ? 1 : 0;
  BOOST_TEST(later >= 5);   // ~10 tokens refilled in 100 ms
  BOOST_TEST(later <= 40);  // generous: the machine may be slow, never a second's worth
  BOOST_TEST(!rate_limiting(0)->should_sample(root()));
}

BOOST_AUTO_TEST_CASE(rate_limiting_is_thread_safe) {
  auto s = rate_limiting(1000);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) allowed += s->should_sample(root()) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(allowed.load() >= 1000);
  BOOST_TEST(allowed.load() < 40000);
}

BOOST_AUTO_TEST_CASE(parent_based_follows_local_and_remote_parents) {
  auto s = parent_based(always_off());
  auto p = root();
  BOOST_TEST(!s->should_sample(p));
  p.parent_sampled = true;
  BOOST_TEST(s->should_sample(p));
  p.parent_is_remote = true;
  BOOST_TEST(s->should_sample(p));
  p.parent_sampled = false;
  BOOST_TEST(!parent_based(always_on())->should_sample(p));
  BOOST_TEST(parent_based(probability(0.25))->description() == "parent_based(probability(0.25))");
}
