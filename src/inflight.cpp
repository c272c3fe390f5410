#include "prela/inflight.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "detail/counters.hpp"
#include "detail/diagnostics.hpp"
#include "detail/inflight.hpp"
#include "detail/printable.hpp"
#include "prela/clock.hpp"
#include "prela/context.hpp"

namespace prela {
namespace detail {
namespace {

// Every table ever made, newest first. Tables are only ever added.
std::atomic<inflight_table*> all_tables{nullptr};
// Tables whose thread exited, waiting for a thread to adopt them.
std::mutex orphans_mu;
std::vector<inflight_table*> orphans;

constexpr std::size_t first_chunk_slots = 64;
constexpr std::size_t word_count = std::size(inflight_slot{}.words);
constexpr std::size_t name_word = inflight_slot::name_word;
static_assert(name_word + inline_name_bytes / 8 == word_count);

inflight_table* adopt_or_create() {
  {
    std::lock_guard lock(orphans_mu);
    if (!orphans.empty()) {
      inflight_table* t = orphans.back();
      orphans.pop_back();
      return t;
    }
  }
  auto* t = new inflight_table();  // never deleted: readers may walk it at any time
  inflight_table* head = all_tables.load(std::memory_order_relaxed);
  do {
    t->next = head;
  } while (!all_tables.compare_exchange_weak(head, t, std::memory_order_release, std::memory_order_relaxed));
  return t;
}

void push_free(inflight_table& t, inflight_slot& s) noexcept {
  s.next_free = t.free;
  t.free = &s;
}

/// Takes back the slots other threads closed; returns how many.
std::size_t take_back(inflight_table& t) noexcept {
  std::size_t taken = 0;
  for (auto* c = t.first.load(std::memory_order_relaxed); c != nullptr;
       c = c->next.load(std::memory_order_relaxed)) {
    for (std::size_t i = 0; i < c->size; ++i) {
      inflight_slot& s = c->slots[i];
      const std::uint64_t st = s.state.load(std::memory_order_acquire);
      if ((st & 3) != inflight_slot::closed_elsewhere) continue;
      s.state.store(st & ~std::uint64_t{3}, std::memory_order_relaxed);
      push_free(t, s);
      ++taken;
    }
  }
  return taken;
}

void grow(inflight_table& t) {
  const std::size_t n = std::max(first_chunk_slots, t.capacity);  // doubles the table
  auto* c = new inflight_table::chunk(n);
  for (std::size_t i = 0; i < n; ++i) c->slots[i].table = &t;
  t.capacity += n;
  if (t.last == nullptr) {
    t.first.store(c, std::memory_order_release);
  } else {
    t.last->next.store(c, std::memory_order_release);
  }
  t.last = c;
  for (std::size_t i = n; i-- > 0;) push_free(t, c->slots[i]);
}

std::uint64_t flow_id(std::uint64_t context, std::uint32_t generation) noexcept {
  return (context >> 4) | (std::uint64_t{generation} << 44);
}

}  // namespace

inflight_slot* inflight_take_slot() noexcept {
  sdk_thread_state& t = sdk_tls;
  if (t.phase == registry_phase::exited) return nullptr;
  try {
    auto* table = static_cast<inflight_table*>(t.inflight);
    if (table == nullptr) {
      table = adopt_or_create();
      t.inflight = table;
    }
    // Out of free slots (or a new table): take back what other threads closed. If
    // that leaves the table mostly full, add as many slots again, so that taking back
    // stays rare.
    if (table->free == nullptr && take_back(*table) < std::max<std::size_t>(16, table->capacity / 4)) {
      try {
        grow(*table);
      } catch (...) {  // no memory: make do with the slots taken back
      }
    }
    inflight_slot* s = table->free;
    if (s == nullptr) return nullptr;
    table->free = s->next_free;
    return s;
  } catch (...) {
    return nullptr;  // no memory for a table: this span is not listed
  }
}

void inflight_release_thread() noexcept {
  auto* table = static_cast<inflight_table*>(std::exchange(sdk_tls.inflight, nullptr));
  if (table == nullptr) return;
  std::lock_guard lock(orphans_mu);
  try {
    orphans.push_back(table);
  } catch (...) {  // no memory: the table stays listed for readers, unused
  }
}

void inflight_lock_for_fork() noexcept { orphans_mu.lock(); }
void inflight_unlock_after_fork_in_parent() noexcept { orphans_mu.unlock(); }

void inflight_after_fork_in_child() noexcept {
  // Only the forking thread exists in the child: every other thread's spans will never
  // end here. Close them and let the tables be adopted. (orphans_mu is held since
  // before the fork.)
  const std::size_t orphaned = orphans.size();
  for (inflight_table* t = all_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    if (t == sdk_tls.inflight) continue;
    for (auto* c = t->first.load(std::memory_order_relaxed); c != nullptr;
         c = c->next.load(std::memory_order_relaxed)) {
      for (std::size_t i = 0; i < c->size; ++i) {
        const std::uint64_t st = c->slots[i].state.load(std::memory_order_relaxed);
        if ((st & 3) == inflight_slot::open) {
          c->slots[i].state.store((st & ~std::uint64_t{3}) | inflight_slot::closed_elsewhere,
                                  std::memory_order_relaxed);
        }
      }
    }
    if (std::find(orphans.begin(), orphans.begin() + static_cast<std::ptrdiff_t>(orphaned), t) ==
        orphans.begin() + static_cast<std::ptrdiff_t>(orphaned)) {
      try {
        orphans.push_back(t);
      } catch (...) {
      }
    }
  }
  orphans_mu.unlock();
}

namespace {

constexpr std::size_t start_word = 4;

/// Copies an open slot; false if it is not open or changed while being copied. A span
/// that reads no clock (one that does not record) is dated here, by the first snapshot
/// that sees it: its start word goes from 0 to `now`, once.
bool read_slot(inflight_slot& slot, std::uint64_t (&w)[word_count], std::chrono::nanoseconds now) noexcept {
  const std::uint64_t before = slot.state.load(std::memory_order_acquire);
  if ((before & 3) != inflight_slot::open) return false;  // free or closed
  for (std::size_t i = 0; i < word_count; ++i) w[i] = slot.words[i].load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (slot.state.load(std::memory_order_relaxed) != before) return false;
  if (w[start_word] == 0) {
    // If the slot was reused meanwhile, this dates its new span, by a moment at most.
    std::uint64_t expected = 0;
    const auto first_seen = static_cast<std::uint64_t>(now.count());
    if (slot.words[start_word].compare_exchange_strong(expected, first_seen, std::memory_order_acq_rel)) {
      w[start_word] = first_seen;
    } else {
      // Dated by another snapshot, or reused by a span with a start time: the entry is
      // this one's only if the state is still the same.
      w[start_word] = expected;
      if (slot.state.load(std::memory_order_acquire) != before) return false;
    }
  }
  return true;
}

inflight_span to_span(const std::uint64_t (&w)[word_count], std::chrono::nanoseconds now,
                      const std::vector<installed_flow>& installed) {
  inflight_span s;
  s.trace_id = prela::trace_id(w[0], w[1]);
  s.span_id = prela::span_id(w[2]);
  s.parent_span_id = prela::span_id(w[3]);
  s.start_time = std::chrono::nanoseconds(static_cast<std::int64_t>(w[4]));
  s.age = std::max(now - s.start_time, std::chrono::nanoseconds(0));
  const std::uint64_t context = w[5];
  const auto generation = static_cast<std::uint32_t>(w[6] >> 32);
  s.thread = static_cast<std::uint32_t>(w[6]);
  const std::uint64_t bits = w[7];
  s.type = static_cast<span_type>(
      std::min<std::uint64_t>(bits & 0xFF, static_cast<std::uint64_t>(span_type::custom)));
  s.sampled = ((bits >> 8) & trace_flag_sampled) != 0;
  const std::size_t len = std::min<std::size_t>((bits >> 16) & 0xFF, inline_name_bytes);
  const bool cut = ((bits >> 24) & 1) != 0;
  const bool own = ((bits >> 25) & 1) != 0;
  char text[inline_name_bytes];
  std::memcpy(text, &w[name_word], inline_name_bytes);
  s.name.assign(text, len);
  if (cut) s.name += "\u2026";
  s.flow = flow_id(context, generation);
  if (own) {
    s.running = true;  // a thread's own flow lives on that thread
  } else {
    const auto* ctx = reinterpret_cast<const trace_context*>(static_cast<std::uintptr_t>(context));
    // Context memory is never freed (context.cpp), so its generation can always be read.
    if (generation_of(ctx) == generation) {
      for (const installed_flow& f : installed) {
        if (f.context == ctx) {
          s.running = true;
          s.thread = f.thread;
          break;
        }
      }
    }
  }
  return s;
}

}  // namespace
}  // namespace detail

std::vector<inflight_span> inflight() {
  using namespace detail;
  const std::vector<installed_flow> installed = installed_flows();
  const auto now = now_since_epoch();
  std::vector<inflight_span> out;
  std::uint64_t w[word_count];
  for (inflight_table* t = all_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    for (auto* c = t->first.load(std::memory_order_acquire); c != nullptr;
         c = c->next.load(std::memory_order_acquire)) {
      for (std::size_t i = 0; i < c->size; ++i) {
        if (read_slot(c->slots[i], w, now)) out.push_back(to_span(w, now, installed));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const inflight_span& a, const inflight_span& b) {
    return a.start_time != b.start_time ? a.start_time < b.start_time : a.span_id < b.span_id;
  });
  return out;
}

namespace detail {
namespace {

void append_age(std::string& out, std::chrono::nanoseconds age) {
  char buf[48];
  const double us = static_cast<double>(age.count()) / 1e3;
  if (us < 1e3) {
    std::snprintf(buf, sizeof buf, "%.0f us", us);
  } else if (us < 1e6) {
    std::snprintf(buf, sizeof buf, "%.1f ms", us / 1e3);
  } else if (us < 60e6) {
    std::snprintf(buf, sizeof buf, "%.2f s", us / 1e6);
  } else {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(age).count();
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  out += buf;
}

void append_flow(std::string& out, const inflight_span& s) {
  char buf[96];
  if (s.running) {
    std::snprintf(buf, sizeof buf, "flow %llx running on thread %u", static_cast<unsigned long long>(s.flow),
                  static_cast<unsigned>(s.thread));
  } else {
    std::snprintf(buf, sizeof buf, "flow %llx suspended", static_cast<unsigned long long>(s.flow));
  }
  out += buf;
}

constexpr std::size_t max_name_columns = 120;

std::string describe_chain(const std::vector<const inflight_span*>& chain) {
  std::string out;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (i != 0) out += " \u2192 ";
    append_printable(out, chain[i]->name, max_name_columns);
  }
  return out;
}

using spans_by_id = std::unordered_map<std::uint64_t, const inflight_span*>;

spans_by_id index(const std::vector<inflight_span>& spans) {
  spans_by_id by_id;
  for (const auto& s : spans) by_id.emplace(s.span_id.value(), &s);
  return by_id;
}

/// The span's parent if it is in the snapshot (in the same trace); nullptr for a root,
/// or a span whose parent is not open.
const inflight_span* open_parent(const inflight_span& s, const spans_by_id& by_id) {
  if (!s.parent_span_id.is_valid()) return nullptr;
  const auto it = by_id.find(s.parent_span_id.value());
  return it != by_id.end() && it->second != &s && it->second->trace_id == s.trace_id ? it->second : nullptr;
}

/// The span's open ancestors and itself, root first (at most 64 levels).
std::vector<const inflight_span*> ancestors(const inflight_span& s, const spans_by_id& by_id) {
  std::vector<const inflight_span*> chain{&s};
  for (const inflight_span* p = open_parent(s, by_id); p != nullptr && chain.size() < 64;
       p = open_parent(*p, by_id)) {
    chain.push_back(p);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

}  // namespace
}  // namespace detail

void write_inflight(std::ostream& out, const std::vector<inflight_span>& spans) {
  using namespace detail;
  // Children by parent, within a trace; a span whose parent is not open is a root here.
  const spans_by_id by_id = index(spans);
  std::map<const inflight_span*, std::vector<const inflight_span*>> children;
  std::vector<const inflight_span*> roots;  // oldest first: spans are sorted by start
  for (const auto& s : spans) {
    if (const inflight_span* p = open_parent(s, by_id)) {
      children[p].push_back(&s);
    } else {
      roots.push_back(&s);
    }
  }
  std::string text;
  std::set<trace_id> traces;
  for (const auto& s : spans) traces.insert(s.trace_id);
  text += std::to_string(spans.size()) + (spans.size() == 1 ? " open span" : " open spans") + " in " +
          std::to_string(traces.size()) + (traces.size() == 1 ? " trace" : " traces") + "\n";
  // One block per trace, in the order of its oldest root.
  std::vector<trace_id> order;
  std::map<trace_id, std::vector<const inflight_span*>> roots_of;
  for (const auto* r : roots) {
    if (roots_of[r->trace_id].empty()) order.push_back(r->trace_id);
    roots_of[r->trace_id].push_back(r);
  }
  std::set<const inflight_span*> shown;
  for (const auto& id : order) {
    text += "trace " + id.to_hex() + "\n";
    std::vector<std::pair<const inflight_span*, std::size_t>> todo;  // span, depth
    const auto& rs = roots_of[id];
    for (auto it = rs.rbegin(); it != rs.rend(); ++it) todo.emplace_back(*it, 1);
    while (!todo.empty()) {
      const auto [s, depth] = todo.back();
      todo.pop_back();
      if (!shown.insert(s).second) continue;  // a cycle of ids: show each span once
      text.append(2 * std::min<std::size_t>(depth, 32), ' ');
      append_printable(text, s->name, max_name_columns);
      text += " (";
      text += to_string(s->type);
      text += ") ";
      append_age(text, s->age);
      text += "  ";
      append_flow(text, *s);
      if (depth == 1 && s->parent_span_id.is_valid())
        text += "  parent " + s->parent_span_id.to_hex() + " not open";
      if (!s->sampled) text += "  unsampled";
      text += '\n';
      const auto c = children.find(s);
      if (c == children.end()) continue;
      for (auto it = c->second.rbegin(); it != c->second.rend(); ++it) todo.emplace_back(*it, depth + 1);
    }
  }
  out << text;
}

void write_inflight(std::ostream& out) { write_inflight(out, inflight()); }

// --- Slow spans ----------------------------------------------------------------------

namespace detail {

class slow_span_watch {
 public:
  explicit slow_span_watch(std::chrono::milliseconds threshold) : threshold_(threshold) {
    thread_ = std::thread([this] { run(); });
  }
  ~slow_span_watch() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  slow_span_watch(const slow_span_watch&) = delete;
  slow_span_watch& operator=(const slow_span_watch&) = delete;

 private:
  void run() {
    // Often enough to report a span within a second of crossing the threshold.
    const auto period =
        std::clamp(threshold_ / 2, std::chrono::milliseconds(10), std::chrono::milliseconds(500));
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      try {
        check();
      } catch (...) {  // no memory for a snapshot: try again next period
      }
      lock.lock();
    }
  }

  void check() {
    const std::vector<inflight_span> spans = inflight();
    const spans_by_id by_id = index(spans);
    std::set<std::pair<std::uint64_t, std::int64_t>> still_open;
    for (const auto& s : spans) {
      if (s.age < threshold_) continue;
      const std::pair<std::uint64_t, std::int64_t> key{s.span_id.value(), s.start_time.count()};
      still_open.insert(key);
      if (reported_.contains(key)) continue;
      count(counter::slow_spans);
      std::string m = "slow span: '";
      append_printable(m, s.name, max_name_columns);
      m += "' (";
      m += to_string(s.type);
      m += ") open for ";
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(s.age.count()) / 1e9);
      m += buf;
      m += " (slow_span_threshold " + std::to_string(threshold_.count()) + " ms), ";
      if (s.running) {
        m += "running on thread " + std::to_string(s.thread);
      } else {
        m += "suspended";
      }
      m += "; trace " + s.trace_id.to_hex() + " span " + s.span_id.to_hex() + ": ";
      m += describe_chain(ancestors(s, by_id));
      diagnose(m);
    }
    reported_.swap(still_open);  // forget spans that ended
  }

  std::chrono::milliseconds threshold_;
  std::set<std::pair<std::uint64_t, std::int64_t>> reported_;  // watcher thread only
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

void slow_span_watch_deleter::operator()(slow_span_watch* w) const noexcept { delete w; }

slow_span_watch_ptr start_slow_span_watch(std::chrono::milliseconds threshold) {
  if (threshold.count() <= 0) return nullptr;
  return slow_span_watch_ptr(new slow_span_watch(threshold));
}

void abandon_slow_span_watch(slow_span_watch_ptr& w) noexcept {
  // Its thread does not exist in a fork() child: neither joined nor detached, never
  // destroyed.
  (void)w.release();  // NOLINT(bugprone-unused-return-value)
}

}  // namespace detail
}  // namespace prela
