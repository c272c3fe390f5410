#include "prela/ids.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <ostream>
#include <random>

#include "detail/hex.hpp"

namespace prela {
namespace {

// xoshiro256** per thread: ~1 ns per draw, seeded from the OS. Reseeded after fork()
// so that parent and child never produce the same ids.
std::atomic<std::uint32_t> fork_generation{0};

struct generator {
  std::uint64_t s[4] = {0, 0, 0, 0};
  std::uint32_t generation = 0;
  bool seeded = false;
};
constinit thread_local generator rng{};

std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

void seed(generator& g) noexcept {
  static const bool atfork_registered = [] {
    pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  (void)atfork_registered;
  try {
    std::random_device rd;
    for (auto& word : g.s) word = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  } catch (...) {
    // No entropy source: fall back to addresses and time, still unique per thread.
    std::uint64_t x = reinterpret_cast<std::uintptr_t>(&g) ^
                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (auto& word : g.s) {  // splitmix64
      x += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }
  if ((g.s[0] | g.s[1] | g.s[2] | g.s[3]) == 0) g.s[0] = 1;
  g.generation = fork_generation.load(std::memory_order_relaxed);
  g.seeded = true;
}

std::uint64_t next_random() noexcept {
  generator& g = rng;
  if (!g.seeded || g.generation != fork_generation.load(std::memory_order_relaxed)) [[unlikely]] {
    seed(g);
  }
  const std::uint64_t result = rotl(g.s[1] * 5, 7) * 9;
  const std::uint64_t t = g.s[1] << 17;
  g.s[2] ^= g.s[0];
  g.s[3] ^= g.s[1];
  g.s[1] ^= g.s[2];
  g.s[0] ^= g.s[3];
  g.s[2] ^= t;
  g.s[3] = rotl(g.s[3], 45);
  return result;
}

bool parse_hex64(std::string_view hex, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  for (char c : hex) {
    const int d = detail::any_hex(c);
    if (d < 0) return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  out = v;
  return true;
}

}  // namespace

trace_id trace_id::generate() noexcept {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  do {
    hi = next_random();
    lo = next_random();
  } while ((hi | lo) == 0);
  return {hi, lo};
}

std::optional<trace_id> trace_id::from_hex(std::string_view hex) noexcept {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  if (hex.size() != 32 || !parse_hex64(hex.substr(0, 16), hi) || !parse_hex64(hex.substr(16), lo)) {
    return std::nullopt;
  }
  trace_id id(hi, lo);
  if (!id.is_valid()) return std::nullopt;
  return id;
}

std::string trace_id::to_hex() const {
  std::string s(32, '0');
  to_hex(s.data());
  return s;
}

void trace_id::to_hex(char* out) const noexcept {
  detail::write_hex64(high_, out);
  detail::write_hex64(low_, out + 16);
}

std::array<std::uint8_t, 16> trace_id::to_bytes() const noexcept {
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(high_ >> (56 - 8 * i));
    b[8 + i] = static_cast<std::uint8_t>(low_ >> (56 - 8 * i));
  }
  return b;
}

span_id span_id::generate() noexcept {
  std::uint64_t v = 0;
  do {
    v = next_random();
  } while (v == 0);
  return span_id(v);
}

std::optional<span_id> span_id::from_hex(std::string_view hex) noexcept {
  std::uint64_t v = 0;
  if (hex.size() != 16 || !parse_hex64(hex, v) || v == 0) return std::nullopt;
  return span_id(v);
}

std::string span_id::to_hex() const {
  std::string s(16, '0');
  to_hex(s.data());
  return s;
}

void span_id::to_hex(char* out) const noexcept { detail::write_hex64(value_, out); }

std::ostream& operator<<(std::ostream& os, const trace_id& id) { return os << id.to_hex(); }
std::ostream& operator<<(std::ostream& os, const span_id& id) { return os << id.to_hex(); }

}  // namespace prela
