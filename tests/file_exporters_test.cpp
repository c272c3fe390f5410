// JSONL and Perfetto files, parsed back with nlohmann_json and checked span by span.
#define BOOST_TEST_MODULE file_exporters
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latch>
#include <regex>
#include <set>
#include <thread>

#include "prela/exporters/jsonl.hpp"
#include "prela/exporters/perfetto.hpp"
#include "test_support.hpp"

using namespace prela;
using json = nlohmann::json;
using prela::testing::traced;
using namespace std::chrono_literals;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() / ("prela-test-" + span_id::generate().to_hex());
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

std::vector<json> read_lines(const std::filesystem::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

// A small program worth looking at: an agent, a gather-like pair of concurrent tools
// on threads, an llm call with an event and an error.
void run_workload() {
  auto agent = get_tracer().span("agent", span_type::agent, {{"user", "alice"}, {"n", 3}, {"ratio", 0.5}});
  {
    // The tool spans overlap partially whatever the scheduling (a starts, b starts, a
    // ends, b ends): the Perfetto exporter must put them on two tracks.
    std::latch a_open(1);
    std::latch b_open(1);
    std::latch a_closed(1);
    auto a = copy_context_to_thread([&] {
      {
        auto t = get_tracer().span("tool a", span_type::tool);
        a_open.count_down();
        b_open.wait();
        std::this_thread::sleep_for(1ms);
      }
      a_closed.count_down();
    });
    auto b = copy_context_to_thread([&] {
      a_open.wait();
      auto t = get_tracer().span("tool b", span_type::tool);
      b_open.count_down();
      a_closed.wait();
      std::this_thread::sleep_for(1ms);
    });
    std::thread ta(std::move(a));
    std::thread tb(std::move(b));
    ta.join();
    tb.join();
  }
  auto llm = get_tracer().span("llm \"quoted\"\n", span_type::llm);
  llm->add_event("token", {{"index", 1}});
  llm->set_status(span_status::error, "rate limited");
}

}  // namespace

BOOST_AUTO_TEST_CASE(jsonl_lines_have_the_to_dict_shape) {
  temp_dir dir;
  const auto path = dir.path / "spans.jsonl";
  traced t({.exporters = {std::make_shared<jsonl_exporter>(path)}});
  run_workload();
  const auto spans = t.spans();
  const auto lines = read_lines(path);
  BOOST_REQUIRE(lines.size() == spans.size());
  const std::regex iso(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  for (const auto& s : spans) {
    auto it = std::find_if(lines.begin(), lines.end(),
                           [&](const json& j) { return j.at("span_id") == s.span_id.to_hex(); });
    BOOST_REQUIRE(it != lines.end());
    const json& j = *it;
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_TEST(j.size() == 12U);  // exactly the to_dict fields
      BOOST_TEST(j.at("trace_id") == s.trace_id.to_hex());
      if (s.parent_span_id.is_valid()) {
        BOOST_TEST(j.at("parent_span_id") == s.parent_span_id.to_hex());
      } else {
        BOOST_TEST(j.at("parent_span_id").is_null());
      }
      BOOST_TEST(j.at("name") == s.name);
      BOOST_TEST(j.at("span_type") == std::string(to_string(s.type)));
      const std::string started = j.at("started_at");
      const std::string ended = j.at("ended_at");
      BOOST_TEST(std::regex_match(started, iso));
      BOOST_TEST(std::regex_match(ended, iso));
      BOOST_TEST(started <= ended);
      BOOST_TEST(j.at("duration_ms").get<double>() == static_cast<double>(s.duration().count()) / 1e6,
                 boost::test_tools::tolerance(1e-9));
      BOOST_TEST(j.at("status") == std::string(to_string(s.status)));
      if (s.status_message.empty()) {
        BOOST_TEST(j.at("status_message").is_null());
      } else {
        BOOST_TEST(j.at("status_message") == s.status_message);
      }
      BOOST_TEST(j.at("attributes").size() == s.attributes.size());
      BOOST_TEST(j.at("events").size() == s.events.size());
    }
  }
  const json& agent =
      *std::find_if(lines.begin(), lines.end(), [](const json& j) { return j.at("name") == "agent"; });
  BOOST_TEST(agent.at("attributes").at("user") == "alice");
  BOOST_TEST(agent.at("attributes").at("n") == 3);
  BOOST_TEST(agent.at("attributes").at("ratio") == 0.5);
  const json& llm =
      *std::find_if(lines.begin(), lines.end(), [](const json& j) { return j.at("span_type") == "llm"; });
  BOOST_TEST(llm.at("events").at(0).at("name") == "token");
  BOOST_TEST(std::regex_match(llm.at("events").at(0).at("timestamp").get<std::string>(), iso));
  BOOST_TEST(llm.at("events").at(0).at("attributes").at("index") == 1);
  BOOST_TEST(llm.at("status") == "error");
}

BOOST_AUTO_TEST_CASE(iso_timestamps_are_valid_dates) {
  span_data s;
  s.trace_id = trace_id::generate();
  s.span_id = span_id::generate();
  // 2024-02-29T23:59:59.999999Z, a leap day, one microsecond before March.
  s.start_time = std::chrono::seconds(1709251199) + std::chrono::microseconds(999999);
  s.end_time = s.start_time + std::chrono::microseconds(1);
  std::string line;
  append_span_json(line, s);
  const json j = json::parse(line);
  BOOST_TEST(j.at("started_at") == "2024-02-29T23:59:59.999999Z");
  BOOST_TEST(j.at("ended_at") == "2024-03-01T00:00:00.000000Z");
}

BOOST_AUTO_TEST_CASE(jsonl_appends_and_reports_unopenable_paths) {
  temp_dir dir;
  const auto path = dir.path / "spans.jsonl";
  for (int run = 0; run < 2; ++run) {
    traced t({.exporters = {std::make_shared<jsonl_exporter>(path)}});
    auto s = get_tracer().span("run " + std::to_string(run));
  }
  BOOST_TEST(read_lines(path).size() == 2U);  // the second run appended
  try {
    jsonl_exporter bad(dir.path / "missing-dir" / "x.jsonl");
    BOOST_FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("missing-dir") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(perfetto_file_is_valid_json_with_one_process_per_trace) {
  temp_dir dir;
  const auto path = dir.path / "trace.json";
  std::vector<span_data> spans;
  {
    traced t({.exporters = {std::make_shared<perfetto_exporter>(path)}});
    run_workload();
    run_workload();  // a second trace
    spans = t.spans();
  }  // shutdown closes the array
  std::ifstream in(path);
  const json doc = json::parse(in);
  BOOST_REQUIRE(doc.is_array());

  std::map<std::string, const json*> complete;  // span id -> event
  std::set<int> pids;
  int instants = 0;
  for (const auto& e : doc) {
    if (e.at("ph") == "X") {
      complete[e.at("args").at("span_id")] = &e;
      pids.insert(e.at("pid").get<int>());
    } else if (e.at("ph") == "i") {
      ++instants;
    } else {
      BOOST_TEST(e.at("ph") == "M");
    }
  }
  BOOST_TEST(complete.size() == spans.size());
  BOOST_TEST(pids.size() == 2U);  // one per trace
  BOOST_TEST(instants == 2);      // the llm events
  for (const auto& s : spans) {
    const json& e = *complete.at(s.span_id.to_hex());
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_TEST(e.at("name") == s.name);
      BOOST_TEST(e.at("cat") == std::string(to_string(s.type)));
      BOOST_TEST(e.at("ts").get<double>() == static_cast<double>(s.start_time.count()) / 1000.0,
                 boost::test_tools::tolerance(1e-12));
      BOOST_TEST(e.at("dur").get<double>() == static_cast<double>(s.duration().count()) / 1000.0,
                 boost::test_tools::tolerance(1e-6));
      BOOST_TEST(e.at("args").at("trace_id") == s.trace_id.to_hex());
      BOOST_TEST(e.at("args").at("status") == std::string(to_string(s.status)));
      for (const auto& a : s.attributes) BOOST_TEST(e.at("args").contains(a.key));
    }
  }
  // Each track nests properly: on one (pid, tid) no two spans overlap partially. The
  // concurrent tools therefore sit on different tracks.
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
  for (const auto& [id, e] : complete) {
    const double ts = e->at("ts");
    tracks[{e->at("pid"), e->at("tid")}].emplace_back(ts, ts + e->at("dur").get<double>());
  }
  for (const auto& [key, intervals] : tracks) {
    for (const auto& a : intervals) {
      for (const auto& b : intervals) {
        const bool ok = a.second <= b.first || b.second <= a.first ||
                        (a.first <= b.first && b.second <= a.second) ||
                        (b.first <= a.first && a.second <= b.second);
        BOOST_TEST(ok);
      }
    }
  }
  std::map<int, std::set<int>> tools_tids;
  for (const auto& [id, e] : complete) {
    if (e->at("cat") == "tool") tools_tids[e->at("pid")].insert(e->at("tid").get<int>());
  }
  for (const auto& [pid, tids] : tools_tids) BOOST_TEST(tids.size() == 2U);
}

BOOST_AUTO_TEST_CASE(perfetto_file_loads_even_unclosed) {
  temp_dir dir;
  const auto path = dir.path / "trace.json";
  auto exporter = std::make_shared<perfetto_exporter>(path);
  traced t({.exporters = {exporter}});
  { auto s = get_tracer().span("in flight"); }
  t.spans();  // flushed, not shut down: the array is still open
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(!json::accept(text));
  BOOST_TEST(json::accept(text + "\n]"));  // what viewers do with an unterminated array
}

namespace {

std::vector<span_data> spans_named(const std::string& prefix, int n) {
  std::vector<span_data> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& s = out[static_cast<std::size_t>(i)];
    s.name = prefix + " " + std::to_string(i) + std::string(200, 'x');  // ~450 bytes per line
    s.trace_id = trace_id::generate();
    s.span_id = span_id::generate();
  }
  return out;
}

// The process may not write past `bytes` in any file while it lives (a full disk for
// this test's purposes: writes stop part-way with EFBIG).
struct file_size_limit {
  rlimit saved{};
  explicit file_size_limit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit l = saved;
    l.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &l);
  }
  ~file_size_limit() { setrlimit(RLIMIT_FSIZE, &saved); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(jsonl_after_a_short_write_keeps_every_line_whole_and_counts_truthfully) {
  // Disk full in the middle of a batch left half a line, the next batch was glued to
  // it, and the whole batch counted as failed though part of it was in the file.
  temp_dir dir;
  const auto path = dir.path / "spans.jsonl";
  prela::testing::captured_warnings w;
  jsonl_exporter e(path);
  BOOST_TEST((e.export_spans(spans_named("first", 10)) == export_result::success));
  const auto before = std::filesystem::file_size(path);
  {
    file_size_limit limit(before + 20000);  // room for ~40 of the next 100 lines
    BOOST_TEST((e.export_spans(spans_named("second", 100)) == export_result::failure));
  }
  BOOST_TEST(std::filesystem::file_size(path) == before);  // the part written was removed
  BOOST_TEST(!e.force_flush(1s));                          // a batch failed since the last call
  BOOST_TEST((e.export_spans(spans_named("third", 5)) == export_result::success));
  BOOST_TEST(e.force_flush(1s));
  const auto lines = read_lines(path);  // throws on a line that is not JSON
  BOOST_TEST(lines.size() == 15U);
  for (const auto& l : lines) BOOST_TEST(l.at("name").get<std::string>().rfind("second", 0) != 0U);
  BOOST_TEST(e.shutdown(1s));
  const auto said = w.lines();
  BOOST_REQUIRE(said.size() == 2U);  // failing once, writing again once
  BOOST_TEST(said[0].find("cannot write to " + path.string()) != std::string::npos);
  BOOST_TEST(said[0].find("removed") != std::string::npos);
  BOOST_TEST(said[1].find("writes to " + path.string() + " again") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(write_errors_are_reported_and_flush_and_shutdown_say_so) {
  // /dev/full: every write fails with ENOSPC. Silent before, and flush said true.
  prela::testing::captured_warnings w;
  jsonl_exporter e("/dev/full");
  for (int i = 0; i < 3; ++i) BOOST_TEST((e.export_spans(spans_named("lost", 2)) == export_result::failure));
  BOOST_TEST(!e.force_flush(1s));
  BOOST_TEST(!e.shutdown(1s));
  const auto said = w.lines();
  BOOST_REQUIRE(said.size() == 1U);
  BOOST_TEST(said[0].find("/dev/full") != std::string::npos);
  BOOST_TEST(said[0].find(std::strerror(ENOSPC)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(perfetto_refuses_a_path_it_cannot_write) {
  // /proc/version opens for root but takes no bytes: refused at construction, not a
  // silent exporter that loses every span.
  BOOST_CHECK_THROW(perfetto_exporter("/proc/version"), std::runtime_error);
  BOOST_CHECK_THROW(perfetto_exporter("/dev/full"), std::runtime_error);
  prela::testing::captured_warnings w;
  temp_dir dir;
  perfetto_exporter ok(dir.path / "trace.json");
  BOOST_TEST((ok.export_spans(spans_named("kept", 3)) == export_result::success));
  BOOST_TEST(ok.force_flush(1s));
  BOOST_TEST(ok.shutdown(1s));
  std::ifstream in(dir.path / "trace.json");
  BOOST_TEST(
      json::accept(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())));
  BOOST_TEST(w.lines().empty());
}
