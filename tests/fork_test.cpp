// fork() with the tracer running: prefork servers and fork+exec helpers. The child can
// exit at once or trace after its own init(); the parent is not affected. (Not run
// under TSan, which does not support threads started after a multi-threaded fork.)
#define BOOST_TEST_MODULE fork
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "test_support.hpp"

using namespace prela;
using namespace std::chrono_literals;

namespace {

/// Runs `child` in a forked process and returns its exit status (the child reports
/// failures on stderr and exits non-zero; it never returns into the test runner).
template <class F>
int in_child(F child) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 1;
    try {
      code = child();
    } catch (...) {
      std::fprintf(stderr, "child: exception\n");
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CHILD_CHECK(cond)                                       \
  do {                                                          \
    if (!(cond)) {                                              \
      std::fprintf(stderr, "child: check failed: %s\n", #cond); \
      return 1;                                                 \
    }                                                           \
  } while (0)

/// An exporter that holds every batch for a while: the processor is mid-export when
/// the process forks.
std::shared_ptr<exporter> slow_exporter() {
  return std::make_shared<prela::testing::scripted_exporter>([](auto) {
    std::this_thread::sleep_for(50ms);
    return export_result::success;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_forked_child_exits_at_once_and_can_trace_after_its_own_init) {
  prela::testing::traced parent_tracing({.exporters = {slow_exporter()}, .export_timeout = 30s});
  for (int i = 0; i < 100; ++i) auto s = get_tracer().span("parent before fork");
  (void)force_flush(0ms);  // exports in flight while forking

  // A child that only shuts down (what exit() does through init's atexit handler):
  // no wait for threads that do not exist in it, no crash.
  const int quick = in_child([] {
    const auto start = std::chrono::steady_clock::now();
    { auto s = get_tracer().span("in the child, before init"); }
    CHILD_CHECK(shutdown(30s));
    CHILD_CHECK(std::chrono::steady_clock::now() - start < 5s);  // not the 30 s export timeout
    return 0;
  });
  BOOST_TEST(quick == 0);

  // A child that traces: init() works as in any process.
  const int tracing = in_child([] {
    const auto start = std::chrono::steady_clock::now();
    auto memory = std::make_shared<memory_exporter>();
    init({.service_name = "child", .exporters = {memory}});
    CHILD_CHECK(std::chrono::steady_clock::now() - start < 5s);
    {
      auto root = get_tracer().span("child work");
      auto inner = get_tracer().span("child step");
    }
    CHILD_CHECK(force_flush(5s));
    CHILD_CHECK(memory->spans().size() == 2U);
    CHILD_CHECK(shutdown(5s));
    return 0;
  });
  BOOST_TEST(tracing == 0);

  // The parent still exports.
  for (int i = 0; i < 10; ++i) auto s = get_tracer().span("parent after fork");
  BOOST_TEST(force_flush(10s));
  BOOST_TEST(parent_tracing.spans().size() == 110U);  // every parent span, none of the children's
}
