// prela's main demo: a traced "AI agent" HTTP server on Boost.Asio coroutines, a load
// generator calling it, and a verification of the traces that came out.
//
//   agent_server [--requests N] [--concurrency C] [--threads T] [--sampling R]
//                [--exporters LIST] [--bench-requests M] [--bench-concurrency B]
//                [--rounds K] [--out DIR]
//                [--port P] [--serve]
//
// What it shows: README.md ("The demo"); flags: --help.
#include <boost/asio.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <prela/exporter_registry.hpp>
#include <prela/exporters/console.hpp>
#include <prela/exporters/jsonl.hpp>
#include <prela/exporters/memory.hpp>
#include <prela/exporters/otlp_http.hpp>
#include <prela/exporters/perfetto.hpp>
#include <prela/prela.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_service.hpp"
#include "load_generator.hpp"
#include "parse_number.hpp"
#include "verify.hpp"

namespace {

namespace net = boost::asio;

constexpr const char* usage = R"(prela agent server demo

  --requests N        requests in the traced run (default 200)
  --concurrency C     requests in flight at once (default 16)
  --threads T         io_context threads serving requests (default 2)
  --sampling R        sampling rate of the traced run, 0..1 (default 1)
  --exporters LIST    comma-separated: jsonl, perfetto, otlp, console, none
                      (default jsonl,perfetto, plus otlp when OTEL_EXPORTER_OTLP_ENDPOINT
                      or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; console prints every
                      trace, not only the example)
  --bench-requests M  requests per measured run of the tracing-cost comparison; 0 skips
                      it (default 1000)
  --bench-concurrency B  requests in flight during the comparison (default 64: enough to
                      keep the CPUs busy, so that what tracing costs shows in throughput)
  --rounds K          rounds of the comparison, each running the server built without
                      instrumentation (agent_server_untraced), then sampled at 0 %, 10 %
                      and 100 %, in rotating order (default 6)
  --model-work U      CPU work units of the simulated model per request (default 300)
  --out DIR           where spans.jsonl and trace.json go (default: current directory)
  --port P            listen on 127.0.0.1:P (default: a free port)
  --serve             only serve (on --port) until Ctrl-C, exporting to --exporters (default:
                      OTEL_TRACES_EXPORTER, else the console) with --sampling; the options
                      of the demo's own load (--requests, --concurrency, --bench-*,
                      --rounds) are refused with it. Try:
                        curl -d 'hello' -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
                             -H 'baggage: user.id=alice' http://127.0.0.1:P/agent
                      A request with the header X-Demo-Stall-Ms: N (at most 60000) hangs N
                      ms on purpose. The open spans: http://127.0.0.1:P/debug/prela (a page
                      that refreshes itself) and /debug/prela/inflight (JSON). Spans open
                      longer than PRELA_SLOW_SPAN_THRESHOLD ms are reported on stderr.
Exit status: 0 when every check of the verification passed, 1 when one failed, 2 for bad
arguments.
)";

struct options {
  int requests = 200;
  int concurrency = 16;
  int threads = 2;
  double sampling = 1.0;
  std::vector<std::string> exporters;
  int bench_requests = 1000;
  int bench_concurrency = 64;
  int rounds = 6;
  int model_work = 300;
  std::filesystem::path out = ".";
  unsigned short port = 0;
  bool serve = false;
  bool exporters_given = false;  // --exporters was on the command line
  bool sampling_given = false;
};

[[noreturn]] void bad_argument(const std::string& message) {
  std::cerr << "agent_server: " << message << " (--help lists the options)\n";
  std::exit(2);
}

template <class T>
T number(const std::string& flag, const std::string& text, T min, T max) {
  const std::optional<T> value = demo::parse_number(text, min, max);
  if (!value) {
    bad_argument(flag + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", not '" + text + "'");
  }
  return *value;
}

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

options parse(int argc, char** argv) {
  options o;
  std::optional<std::string> exporters;
  std::vector<std::string> given;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (flag == "--serve") {
      o.serve = true;
      continue;
    }
    if (i + 1 >= argc) bad_argument(flag + " needs a value");
    const std::string value = argv[++i];
    given.push_back(flag);
    if (flag == "--requests") {
      o.requests = number(flag, value, 1, 10'000'000);
    } else if (flag == "--concurrency") {
      o.concurrency = number(flag, value, 1, 10'000);
    } else if (flag == "--threads") {
      o.threads = number(flag, value, 1, 256);
    } else if (flag == "--sampling") {
      o.sampling = number(flag, value, 0.0, 1.0);
    } else if (flag == "--exporters") {
      exporters = value;
    } else if (flag == "--bench-requests") {
      o.bench_requests = number(flag, value, 0, 10'000'000);
    } else if (flag == "--bench-concurrency") {
      o.bench_concurrency = number(flag, value, 1, 10'000);
    } else if (flag == "--rounds") {
      o.rounds = number(flag, value, 1, 100);
    } else if (flag == "--model-work") {
      o.model_work = number(flag, value, 0, 1'000'000);
    } else if (flag == "--out") {
      o.out = value;
    } else if (flag == "--port") {
      o.port = number<unsigned short>(flag, value, 0, 65535);
    } else {
      bad_argument("unknown option " + flag);
    }
  }
  if (o.serve) {
    // Serving runs no load of its own: the options of the runs would be silently ignored.
    for (const auto& f : given) {
      if (f == "--requests" || f == "--concurrency" || f == "--bench-requests" ||
          f == "--bench-concurrency" || f == "--rounds") {
        bad_argument(f + " does not apply to --serve (it sets the demo's own load)");
      }
    }
  }
  o.exporters_given = exporters.has_value();
  o.sampling_given = std::find(given.begin(), given.end(), "--sampling") != given.end();
  if (!exporters) {
    exporters = "jsonl,perfetto";
    if (env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
      *exporters += ",otlp";
  }
  std::string_view rest = *exporters;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string name(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (name == "none" || name.empty()) continue;
    if (name != "jsonl" && name != "perfetto" && name != "otlp" && name != "console") {
      bad_argument("unknown exporter '" + name + "' in --exporters (jsonl, perfetto, otlp, console, none)");
    }
    o.exporters.push_back(name);
  }
  return o;
}

bool wants(const options& o, std::string_view name) {
  return std::find(o.exporters.begin(), o.exporters.end(), name) != o.exporters.end();
}

std::string service_name() {
  const char* v = std::getenv("OTEL_SERVICE_NAME");
  return v != nullptr && *v != '\0' ? v : "agent-server";
}

std::shared_ptr<prela::sampler> sampler_for(double rate) {
  if (rate >= 1.0) return prela::parent_based(prela::always_on());
  if (rate <= 0.0) return prela::parent_based(prela::always_off());
  return prela::parent_based(prela::probability(rate));
}

// Ctrl-C: the load generator stops sending, the current run ends, spans are flushed.
std::atomic<bool> interrupted{false};

struct server {
  net::io_context io;
  net::thread_pool model_pool{2};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
  net::signal_set signals{io, SIGINT, SIGTERM};
  demo::agent_service service;
  std::vector<std::thread> threads;

  server(const options& o) : service(io, model_pool, {.port = o.port, .model_work = o.model_work}) {
    signals.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      interrupted = true;
      std::cerr << "\ninterrupted: finishing the requests in flight, then flushing spans\n";
    });
    service.start();
    for (int i = 0; i < o.threads; ++i) threads.emplace_back([this] { io.run(); });
  }

  ~server() {
    service.stop();
    signals.cancel();
    work.reset();
    for (auto& t : threads) t.join();
    model_pool.join();
  }
};

const char* pass(bool ok) { return ok ? "" : "   <-- FAILED"; }

// The exporters of --exporters: files in --out (spans.jsonl afresh each run), OTLP
// configured by the OTEL_EXPORTER_OTLP_* variables, the console.
std::vector<std::shared_ptr<prela::exporter>> exporters_for(
    const options& o, std::shared_ptr<prela::otlp_http_exporter>* otlp) {
  std::vector<std::shared_ptr<prela::exporter>> out;
  std::filesystem::create_directories(o.out);
  if (wants(o, "jsonl")) {
    const auto jsonl_path = (o.out / "spans.jsonl").lexically_normal();
    std::filesystem::remove(jsonl_path);
    out.push_back(std::make_shared<prela::jsonl_exporter>(jsonl_path));
  }
  if (wants(o, "perfetto")) {
    out.push_back(std::make_shared<prela::perfetto_exporter>((o.out / "trace.json").lexically_normal()));
  }
  if (wants(o, "console")) out.push_back(std::make_shared<prela::console_exporter>());
  if (wants(o, "otlp")) {
    auto e = std::dynamic_pointer_cast<prela::otlp_http_exporter>(prela::make_exporter("otlp"));
    if (e) out.push_back(e);
    if (otlp != nullptr) *otlp = e;
  }
  return out;
}

// The traced run: every exporter asked for, plus a memory exporter the checks read.
bool traced_run(const options& o, server& srv) {
  const auto jsonl_path = (o.out / "spans.jsonl").lexically_normal();
  const auto perfetto_path = (o.out / "trace.json").lexically_normal();
  auto memory = std::make_shared<prela::memory_exporter>();
  prela::tracer_options t{
      .service_name = service_name(), .sampler = sampler_for(o.sampling), .exporters = {memory}};
  std::shared_ptr<prela::otlp_http_exporter> otlp;
  for (auto& e : exporters_for(o, &otlp)) t.exporters.push_back(std::move(e));
  const auto before = prela::get_tracer().stats();
  prela::init(std::move(t));

  std::cout << "== traced run: " << o.requests << " requests, " << o.concurrency << " at a time, sampling "
            << o.sampling * 100 << " %\n";
  const demo::load_result load = demo::run_load({.port = srv.service.port(),
                                                 .requests = o.requests,
                                                 .concurrency = o.concurrency,
                                                 .stop = &interrupted});
  // Every span ended with its request; this delivers them all. Bounded, so that an
  // unreachable collector costs 10 s, not the default 30: what it did not take by then
  // is dropped and counted (reported below).
  prela::shutdown(std::chrono::seconds(10));
  const auto after = prela::get_tracer().stats();
  const std::vector<prela::span_data> spans = memory->spans();
  const demo::trace_check c = demo::check_traces(spans);

  if (c.example) {
    std::vector<prela::span_data> one;
    for (const auto& s : spans) {
      if (s.trace_id == *c.example) one.push_back(s);
    }
    std::cout
        << "\none of the traces (the load generator's request, the agent, and the retrieval endpoint it\n"
           "called over HTTP; run_code fails on every 8th request):\n\n";
    prela::print_trace(std::cout, one);
  }

  const std::uint64_t dropped = after.dropped - before.dropped;
  const std::uint64_t failures = after.export_failures - before.export_failures;
  const auto sampled_requests = c.roots;
  const bool complete = o.sampling < 1.0 || sampled_requests == static_cast<std::size_t>(load.ok);
  const bool one_trace_each = c.traces == c.roots && c.traces_not_one_root == 0;
  // The checks read the memory exporter: a span it missed shows as an incomplete trace,
  // an orphan or a missing request. Drops of the other exporters (an unreachable
  // collector) are reported, but say nothing about context propagation.
  const bool ok = load.failed == 0 && complete && one_trace_each && c.orphans == 0 && c.cross_trace == 0 &&
                  c.min_spans_per_trace == c.max_spans_per_trace;

  if (interrupted) {
    std::cout << "interrupted: " << load.ok << " requests answered, " << c.spans
              << " spans flushed to the exporters; no verification\n";
    return false;
  }
  std::printf("verification, computed from the %zu exported spans\n", c.spans);
  std::printf("  requests answered               %d of %d (%d failed)%s\n", load.ok, load.sent, load.failed,
              pass(load.failed == 0));
  std::printf("  sampled requests                %zu%s\n", sampled_requests, pass(complete));
  std::printf("  traces                          %zu, each with one root: %s%s\n", c.traces,
              one_trace_each ? "yes" : "no", pass(one_trace_each));
  std::printf("  spans per trace                 %zu to %zu%s\n", c.min_spans_per_trace,
              c.max_spans_per_trace, pass(c.min_spans_per_trace == c.max_spans_per_trace));
  std::printf("  spans whose parent is missing   %zu%s\n", c.orphans, pass(c.orphans == 0));
  std::printf("  parents from another trace      %zu%s\n", c.cross_trace, pass(c.cross_trace == 0));
  std::printf("  parents from HTTP headers       %zu (2 per trace: /agent and /retrieve)\n",
              c.remote_parents);
  std::printf("  max depth                       %zu\n", c.max_depth);
  std::printf("  spans with error status         %zu (the failing run_code calls)\n", c.errors);
  std::printf("  spans dropped, all exporters   %llu\n", static_cast<unsigned long long>(dropped));
  std::printf("  verification: %s\n\n", ok ? "OK" : "FAILED");

  std::cout << "files\n";
  if (wants(o, "jsonl")) {
    std::cout << "  " << jsonl_path.string()
              << "  one span per line (the Python library's to_dict); e.g. the errors:\n"
              << "      jq -c 'select(.status == \"error\") | {name, status_message}' " << jsonl_path.string()
              << "\n";
  }
  if (wants(o, "perfetto")) {
    std::cout << "  " << perfetto_path.string()
              << "  a timeline: open https://ui.perfetto.dev and drop the file on it\n"
              << "      (one process per trace, one track per concurrent task)\n";
  }
  if (otlp) {
    const auto s = otlp->stats();
    std::cout << "  OTLP to " << otlp->options().endpoint << ": " << s.exported_spans
              << " spans delivered in " << s.requests << " requests, " << s.dropped_spans << " dropped\n";
  } else {
    std::cout << "  (OTLP: set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 to send to a Collector;\n"
                 "   examples/collector has one with Jaeger)\n";
  }
  if (failures != 0) std::cout << "  " << failures << " spans failed to export (see the messages above)\n";
  std::cout << '\n';
  return ok;
}

struct mode {
  const char* name;
  double rate;
  std::vector<double> throughput;  // per round
  std::vector<double> latencies;
  std::uint64_t dropped = 0;
  unsigned short port = 0;  // the server this mode's load goes to
};

// agent_server_untraced, the same service built with PRELA_INSTRUMENTATION=0, running as a
// child process beside this one: the floor of the comparison. It serves until the pipe
// to its standard input closes.
class untraced_server {
 public:
  explicit untraced_server(const options& o) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const auto path = self.parent_path() / "agent_server_untraced";
    if (ec || !std::filesystem::exists(path, ec)) return;
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return;
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
      ::close(to_child[0]);
      ::close(to_child[1]);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
    const std::string program = path.string();
    const std::string threads = std::to_string(o.threads);
    const std::string work = std::to_string(o.model_work);
    char* const argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(threads.c_str()),
                          const_cast<char*>(work.c_str()), nullptr};
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    input_ = to_child[1];
    if (rc != 0) {
      pid_ = -1;
      ::close(from_child[0]);
      return;
    }
    char line[16] = {};
    std::size_t n = 0;
    while (n + 1 < sizeof line) {
      const ssize_t r = ::read(from_child[0], line + n, 1);
      if (r <= 0 || line[n] == '\n') break;
      ++n;
    }
    ::close(from_child[0]);
    if (const auto port = demo::parse_number<unsigned>(std::string_view(line, n), 1, 65535)) {
      port_ = static_cast<unsigned short>(*port);
    }
  }
  untraced_server(const untraced_server&) = delete;
  untraced_server& operator=(const untraced_server&) = delete;
  ~untraced_server() {
    if (input_ >= 0) ::close(input_);  // end of file: the child stops serving
    if (pid_ <= 0) return;
    for (int i = 0; i < 50; ++i) {  // up to 5 s, then it is stopped
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) != 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  /// 0 when the program is not beside this one or did not start.
  [[nodiscard]] unsigned short port() const noexcept { return port_; }

 private:
  pid_t pid_ = -1;
  int input_ = -1;
  unsigned short port_ = 0;
};

// The same service and load with no instrumentation compiled in (agent_server_untraced),
// with tracing built in but sampled at 0 %, at 10 % and at 100 %, in many short rounds
// whose order rotates, so that drifts of the machine affect every mode alike. Spans go to
// a JSONL exporter writing to /dev/null: the serialization and the processor's thread
// cost what they cost. The load generator is this process's, sampled at the mode's rate
// (0 % for the untraced server). Each mode is compared with the floor round by round,
// and the spread of the floor itself is the noise a difference must exceed to mean
// anything.
void cost_of_tracing(const options& o, server& srv) {
  const untraced_server untraced(o);
  std::vector<mode> modes{{"none", 0.0, {}, {}, 0, untraced.port()},
                          {"0 %", 0.0, {}, {}, 0, srv.service.port()},
                          {"10 %", 0.1, {}, {}, 0, srv.service.port()},
                          {"100 %", 1.0, {}, {}, 0, srv.service.port()}};
  if (untraced.port() == 0) modes.erase(modes.begin());
  auto run = [&](mode* m, int requests, int first_id) {
    prela::tracer_options t{.service_name = service_name(), .sampler = sampler_for(m ? m->rate : 0.0)};
    t.exporters.push_back(std::make_shared<prela::jsonl_exporter>("/dev/null"));
    const auto before = prela::get_tracer().stats();
    prela::init(std::move(t));
    const demo::load_result r = demo::run_load({.port = m ? m->port : srv.service.port(),
                                                .requests = requests,
                                                .concurrency = o.bench_concurrency,
                                                .first_id = first_id,
                                                .stop = &interrupted});
    prela::shutdown();
    if (m == nullptr) return;
    m->throughput.push_back(r.throughput());
    m->latencies.insert(m->latencies.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    m->dropped += prela::get_tracer().stats().dropped - before.dropped;
  };

  std::cout << "== cost of tracing: " << o.bench_requests << " requests per run, " << o.bench_concurrency
            << " at a time, " << o.rounds << " rounds of";
  for (const auto& m : modes) std::cout << (&m == &modes[0] ? " " : " / ") << m.name;
  std::cout << " in rotating order\n";
  if (untraced.port() != 0) {
    std::cout
        << "  none: the same server built with PRELA_INSTRUMENTATION=0 (agent_server_untraced, a child\n"
           "  process); 0 %, 10 %, 100 %: this server, instrumented, at that sampling rate\n";
  } else {
    std::cout
        << "  (agent_server_untraced is not beside this program: the floor is tracing sampled at 0 %)\n";
  }
  int id = 1'000'000;
  for (const unsigned short port : {modes.front().port, srv.service.port()}) {  // warm-up, not counted
    mode warm{"warm-up", 0.0, {}, {}, 0, port};
    run(&warm, std::max(100, o.bench_requests / 2), id);
    id += o.bench_requests;
    if (port == srv.service.port()) break;
  }
  for (int round = 0; round < o.rounds && !interrupted; ++round) {
    for (std::size_t k = 0; k < modes.size() && !interrupted; ++k) {
      run(&modes[(k + static_cast<std::size_t>(round)) % modes.size()], o.bench_requests, id);
      id += o.bench_requests;
    }
  }
  if (interrupted) return;

  auto sorted = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  auto median = [](const std::vector<double>& v) {  // of a sorted vector
    if (v.empty()) return 0.0;
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  };
  auto pct = [](std::vector<double>& v, double p) {
    demo::load_result r;
    r.latencies_ms = v;
    return r.percentile(p);
  };
  const mode& floor = modes[0];
  const std::vector<double> base = sorted(floor.throughput);
  const double base_median = median(base);
  // The noise: how far apart the rounds of the floor alone are, relative to their median.
  const double noise =
      base_median > 0 && !base.empty() ? 100.0 * (base.back() - base.front()) / base_median : 0.0;
  std::printf("  tracing   req/s (min-max)    p50 ms   p99 ms   vs %-4s per-round range   dropped\n",
              floor.name);
  for (auto& m : modes) {
    const std::vector<double> tp = sorted(m.throughput);
    // Per round, against that round's floor: drifts between rounds cancel.
    std::vector<double> ratios;
    for (std::size_t r = 0; r < m.throughput.size() && r < floor.throughput.size(); ++r) {
      if (floor.throughput[r] > 0) ratios.push_back(100.0 * m.throughput[r] / floor.throughput[r]);
    }
    ratios = sorted(ratios);
    const double ratio = median(ratios);
    char vs_floor[64] = "100.0 %";
    const char* verdict = "";
    if (&m != &floor && !ratios.empty()) {
      std::snprintf(vs_floor, sizeof vs_floor, "%5.1f %% (%.1f-%.1f)", ratio, ratios.front(), ratios.back());
      const bool within = base.size() < 2 ||  // one round cannot tell a cost from noise

                          std::abs(ratio - 100.0) <= noise ||
                          (ratios.front() <= 100.0 && ratios.back() >= 100.0);
      verdict = within ? "   within the noise" : (ratio < 100.0 ? "   slower" : "   faster");
    }
    char range[40];
    std::snprintf(range, sizeof range, "%.0f (%.0f-%.0f)", median(tp), tp.empty() ? 0.0 : tp.front(),
                  tp.empty() ? 0.0 : tp.back());
    std::printf("  %-7s %-18s %8.2f %8.2f   %-25s %7llu%s\n", m.name, range, pct(m.latencies, 50),
                pct(m.latencies, 99), vs_floor, static_cast<unsigned long long>(m.dropped), verdict);
  }
  if (base.size() < 2) {
    std::printf(
        "  (one round measures no noise: every difference counts as within it; --rounds 3 or more)\n\n");
    return;
  }
  std::printf(
      "  (the rounds of \"%s\" alone differ by up to %.1f %%: a difference from it smaller than that,\n"
      "   or one whose per-round range includes 100 %%, is within this machine's noise)\n\n",
      floor.name, noise);
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  server srv(o);

  if (o.serve) {
    // --exporters as for the runs; without it, OTEL_TRACES_EXPORTER, else the console.
    prela::tracer_options t = prela::tracer_options::from_env();
    if (t.service_name.empty()) t.service_name = service_name();
    if (o.exporters_given) {
      t.exporters = exporters_for(o, nullptr);
    } else if (!env_set("OTEL_TRACES_EXPORTER")) {
      t.exporters = {std::make_shared<prela::console_exporter>()};
    }
    if (o.sampling_given) t.sampler = sampler_for(o.sampling);
    prela::init(std::move(t));
    std::cout << "serving on http://127.0.0.1:" << srv.service.port()
              << "/agent, open spans on http://127.0.0.1:" << srv.service.port()
              << "/debug/prela (Ctrl-C stops)" << std::endl;
    while (!interrupted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    prela::shutdown();
    return 0;
  }

  std::cout << "prela agent server demo: http://127.0.0.1:" << srv.service.port() << " on " << o.threads
            << " io_context threads, the model on a pool of 2\n\n";
  if constexpr (!prela::instrumented) {
    std::cout << "this build has prela compiled out (PRELA_INSTRUMENTATION=0): no span is made, so the\n"
                 "verification fails and every row of the comparison is the same untraced service\n\n";
  }
  const bool ok = traced_run(o, srv);
  if (o.bench_requests > 0 && !interrupted) cost_of_tracing(o, srv);
  if (interrupted) return 130;
  return ok ? 0 : 1;
}
