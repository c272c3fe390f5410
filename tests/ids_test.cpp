#define BOOST_TEST_MODULE ids
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "prela/ids.hpp"

using prela::span_id;
using prela::trace_id;

BOOST_AUTO_TEST_CASE(default_ids_are_invalid_and_zero) {
  BOOST_TEST(!trace_id().is_valid());
  BOOST_TEST(!span_id().is_valid());
  BOOST_TEST(trace_id().to_hex() == std::string(32, '0'));
  BOOST_TEST(span_id().to_hex() == std::string(16, '0'));
}

// Ids are written eight digits at a time: compare with printf for every digit value
// in every position and for random ids.
BOOST_AUTO_TEST_CASE(to_hex_matches_printf) {
  std::vector<std::uint64_t> values;
  for (int pos = 0; pos < 16; ++pos) {
    for (std::uint64_t d = 0; d < 16; ++d) values.push_back(d << (4 * pos));
  }
  values.push_back(~0ULL);
  for (int i = 0; i < 1000; ++i) values.push_back(span_id::generate().value());
  std::size_t mismatches = 0;
  for (std::uint64_t v : values) {
    char expected[17];
    std::snprintf(expected, sizeof expected, "%016llx", static_cast<unsigned long long>(v));
    if (span_id(v).to_hex() != expected) ++mismatches;
    if (trace_id(v, ~v).to_hex() != std::string(expected) + span_id(~v).to_hex()) ++mismatches;
  }
  BOOST_TEST(mismatches == 0U);
}

BOOST_AUTO_TEST_CASE(hex_round_trip_is_lower_case) {
  const auto t = trace_id::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736");
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(t->to_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  BOOST_TEST(t->high() == 0x4bf92f3577b34da6ULL);
  const auto s = span_id::from_hex("00f067aa0ba902b7");
  BOOST_REQUIRE(s.has_value());
  BOOST_TEST(s->to_hex() == "00f067aa0ba902b7");
  BOOST_TEST(s->value() == 0x00f067aa0ba902b7ULL);
  const auto bytes = t->to_bytes();
  BOOST_TEST(bytes[0] == 0x4b);
  BOOST_TEST(bytes[15] == 0x36);
}

BOOST_AUTO_TEST_CASE(from_hex_rejects_bad_input) {
  for (std::string_view bad : {"", "4bf92f3577b34da6a3ce929d0e0e473", "4bf92f3577b34da6a3ce929d0e0e47360",
                               "4bf92f3577b34da6a3ce929d0e0e473g", "00000000000000000000000000000000",
                               "4bf92f3577b34da6-3ce929d0e0e4736", " bf92f3577b34da6a3ce929d0e0e4736"}) {
    BOOST_TEST(!trace_id::from_hex(bad).has_value(), bad);
  }
  for (std::string_view bad :
       {"", "00f067aa0ba902b", "00f067aa0ba902b77", "0000000000000000", "00f067aa0ba902bz"}) {
    BOOST_TEST(!span_id::from_hex(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(ordering_equality_and_hash) {
  const trace_id a(1, 2);
  const trace_id b(1, 3);
  BOOST_TEST((a < b));
  BOOST_TEST((a == trace_id(1, 2)));
  BOOST_TEST((a != b));
  BOOST_TEST(std::hash<trace_id>{}(a) == std::hash<trace_id>{}(trace_id(1, 2)));
  std::unordered_set<span_id> set{span_id(1), span_id(2), span_id(1)};
  BOOST_TEST(set.size() == 2U);
}

BOOST_AUTO_TEST_CASE(generated_ids_are_valid_and_distinct_across_threads) {
  std::vector<std::vector<trace_id>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 20000; ++i) out.push_back(trace_id::generate());
    });
  }
  for (auto& t : threads) t.join();
  std::set<trace_id> all;
  for (const auto& v : per_thread) {
    for (const auto& id : v) {
      BOOST_REQUIRE(id.is_valid());
      all.insert(id);
    }
  }
  BOOST_TEST(all.size() == 80000U);
  std::set<span_id> spans;
  for (int i = 0; i < 50000; ++i) spans.insert(span_id::generate());
  BOOST_TEST(spans.size() == 50000U);
  BOOST_TEST(!spans.count(span_id()));
}

BOOST_AUTO_TEST_CASE(generated_bits_look_uniform) {
  // Each of the 128 bits should be set about half of the time.
  constexpr int n = 20000;
  std::vector<int> ones(128, 0);
  for (int i = 0; i < n; ++i) {
    const trace_id id = trace_id::generate();
    for (int b = 0; b < 64; ++b) {
      ones[static_cast<std::size_t>(b)] += static_cast<int>((id.high() >> b) & 1U);
      ones[static_cast<std::size_t>(64 + b)] += static_cast<int>((id.low() >> b) & 1U);
    }
  }
  for (int count : ones) {
    BOOST_TEST(count > n * 45 / 100);
    BOOST_TEST(count < n * 55 / 100);
  }
}

BOOST_AUTO_TEST_CASE(a_forked_child_process_draws_different_ids) {
  const trace_id before = trace_id::generate();
  (void)before;
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    const trace_id child = trace_id::generate();
    const auto h = child.to_hex();
    (void)!write(fds[1], h.data(), h.size());
    _exit(0);
  }
  const trace_id parent = trace_id::generate();
  char buf[32];
  BOOST_REQUIRE(read(fds[0], buf, sizeof buf) == 32);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  close(fds[1]);
  BOOST_TEST(std::string(buf, 32) != parent.to_hex());
}
