#define BOOST_TEST_MODULE log_correlation
#include <boost/test/unit_test.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/sources/logger.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/smart_ptr/make_shared_object.hpp>

#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "asio_test_support.hpp"
#include "prela/asio.hpp"
#include "prela/boost_log.hpp"
#include "prela/spdlog.hpp"
#include "test_support.hpp"

using namespace prela;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace blog = boost::log;

namespace {

// The two loggers under test, writing "<trace id> <span id> <message>" lines.
struct loggers {
  std::ostringstream spdlog_lines;
  std::shared_ptr<spdlog::logger> spd;
  std::ostringstream boost_lines;
  boost::shared_ptr<blog::sinks::synchronous_sink<blog::sinks::text_ostream_backend>> boost_sink;
  blog::sources::logger boost_logger;

  loggers() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(spdlog_lines);
    spd = std::make_shared<spdlog::logger>("test", sink);
    spd->set_formatter(spdlog_formatter("%* %~ %v"));
    spd->set_level(spdlog::level::trace);

    add_boost_log_attributes();
    auto backend = boost::make_shared<blog::sinks::text_ostream_backend>();
    backend->add_stream(boost::shared_ptr<std::ostream>(&boost_lines, [](std::ostream*) {}));
    boost_sink =
        boost::make_shared<blog::sinks::synchronous_sink<blog::sinks::text_ostream_backend>>(backend);
    namespace expr = blog::expressions;
    boost_sink->set_formatter(expr::stream << expr::attr<std::string>("TraceId") << ' '
                                           << expr::attr<std::string>("SpanId") << ' ' << expr::smessage);
    blog::core::get()->add_sink(boost_sink);
  }
  ~loggers() {
    blog::core::get()->remove_sink(boost_sink);
    blog::core::get()->remove_global_attribute(blog::core::get()->get_global_attributes().find("TraceId"));
    blog::core::get()->remove_global_attribute(blog::core::get()->get_global_attributes().find("SpanId"));
  }

  void log(const std::string& message) {
    spd->info(message);
    BOOST_LOG(boost_logger) << message;
  }
};

struct line {
  std::string trace_id;
  std::string span_id;
  std::string message;
};

std::vector<line> parse(const std::string& text) {
  std::vector<line> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    // Outside a span both ids are empty: the line starts with two spaces.
    const auto a = l.find(' ');
    const auto b = l.find(' ', a + 1);
    BOOST_REQUIRE(b != std::string::npos);
    out.push_back({l.substr(0, a), l.substr(a + 1, b - a - 1), l.substr(b + 1)});
  }
  return out;
}

// One request: lines before, between and after thread hops, in a span and its child.
net::awaitable<void> request(int n, loggers& log, net::any_io_executor other) {
  auto s = get_tracer().span("request " + std::to_string(n));
  log.log("request " + std::to_string(n) + " begins");
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(std::chrono::microseconds(n % 7 * 100));
  co_await timer.async_wait(net::use_awaitable);
  log.log("request " + std::to_string(n) + " after a timer");
  {
    auto child = get_tracer().span("child " + std::to_string(n));
    // To another pool and back, as docs/coroutines.md says a hop through a foreign
    // executor is written (plain bind_executor resumes without the task's context).
    co_await net::post(asio::bind_context(net::bind_executor(other, net::use_awaitable)));
    log.log("child " + std::to_string(n) + " after a hop");
    co_await net::post(net::use_awaitable);
    log.log("child " + std::to_string(n) + " ends");
  }
  log.log("request " + std::to_string(n) + " ends");
}

}  // namespace

// Lines logged from 200 interleaved coroutines on 4 threads, hopping threads between
// lines, each carry the ids of the span current in the coroutine that wrote them, in
// spdlog (synchronous logger) and Boost.Log alike: joined with the exported spans by
// name, no line has another flow's ids.
BOOST_AUTO_TEST_CASE(log_lines_carry_the_ids_of_the_coroutine_that_wrote_them) {
  testing::traced t;
  loggers log;
  log.log("outside any span");
  constexpr int requests = 200;
  net::io_context io(4);
  net::thread_pool other(2);
  for (int n = 0; n < requests; ++n) {
    asio::co_spawn(io, request(n, log, other.get_executor()), net::detached);
  }
  testing::run_on_threads(io, 4);
  other.join();
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 2U * requests);
  std::map<std::string, const span_data*> by_name;
  for (const auto& s : spans) by_name[s.name] = &s;

  for (const std::string& text : {log.spdlog_lines.str(), log.boost_lines.str()}) {
    const auto lines = parse(text);
    BOOST_TEST(lines.size() == 1U + 5U * requests);
    int mismatches = 0;
    int checked = 0;
    for (const auto& l : lines) {
      if (l.message == "outside any span") {
        BOOST_TEST(l.trace_id.empty());
        BOOST_TEST(l.span_id.empty());
        continue;
      }
      // "request N ..." belongs to span "request N", "child N ..." to "child N".
      const auto second_space = l.message.find(' ', l.message.find(' ') + 1);
      const std::string owner = l.message.substr(0, second_space);
      const auto it = by_name.find(owner);
      BOOST_REQUIRE(it != by_name.end());
      ++checked;
      if (l.trace_id != it->second->trace_id.to_hex() || l.span_id != it->second->span_id.to_hex()) {
        if (mismatches++ < 5)
          BOOST_TEST_MESSAGE("mismatch: " << l.trace_id << ' ' << l.span_id << ' ' << l.message);
      }
    }
    BOOST_TEST(checked == 5 * requests);
    BOOST_TEST(mismatches == 0);
  }
}

// Warnings and errors logged through spdlog become events on the logging flow's span;
// lower levels and lines outside a span do not.
BOOST_AUTO_TEST_CASE(spdlog_warnings_become_events_on_the_current_span) {
  testing::traced t;
  auto events = std::make_shared<spdlog_span_event_sink_mt>();
  spdlog::logger logger("events", events);
  logger.set_level(spdlog::level::trace);
  logger.warn("outside");  // no span: nothing to record on
  {
    auto s = get_tracer().span("work");
    logger.info("fine");
    logger.warn("disk at {}%", 91);
    logger.error("cannot write");
  }
  const auto spans = t.spans();
  BOOST_REQUIRE(spans.size() == 1U);
  const auto& ev = spans[0].events;
  BOOST_REQUIRE(ev.size() == 2U);
  BOOST_TEST(ev[0].name == "log");
  BOOST_TEST(to_string(ev[0].attributes[0].value) == "warning");
  BOOST_TEST(to_string(ev[0].attributes[1].value) == "disk at 91%");
  BOOST_TEST(to_string(ev[1].attributes[0].value) == "error");
  BOOST_TEST(to_string(ev[1].attributes[1].value) == "cannot write");
}

BOOST_AUTO_TEST_CASE(log_fields_outside_and_inside_spans) {
  testing::traced t;
  const auto none = current_log_fields();
  BOOST_TEST(none.trace_id.empty());
  BOOST_TEST(none.span_id.empty());
  BOOST_TEST(!none.sampled);
  auto s = get_tracer().span("x");
  const auto f = current_log_fields();
  BOOST_TEST(f.trace_id == s->trace_id().to_hex());
  BOOST_TEST(f.span_id == s->span_id().to_hex());
  BOOST_TEST(f.sampled);
  auto unsampled = new_trace_context({.sampled = false});
  auto u = get_tracer().span("not recorded");
  const auto g = current_log_fields();
  BOOST_TEST(g.trace_id.size() == 32U);  // ids still join logs across services
  BOOST_TEST(!g.sampled);
}
