// Work handed to other threads keeps its trace: copy_context_to_thread wraps a callable
// so that, wherever it runs, its spans are children of the span current where it was
// wrapped — with std::thread, a hand-written work queue, or boost::asio::thread_pool.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <prela/exporters/console.hpp>
#include <prela/prela.hpp>

using namespace std::chrono_literals;

namespace {

// A minimal work queue, like many applications have: the threads outlive any request,
// so they cannot inherit anything; the context travels with each job.
class work_queue {
 public:
  explicit work_queue(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
  }
  ~work_queue() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return done_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool done_ = false;
};

void embed(int chunk) {
  auto span = prela::get_tracer().span("embed_chunk", prela::span_type::embedding, {{"chunk", chunk}});
  // Baggage set by the request is visible here, on a worker thread.
  span->set_attribute("tenant", prela::get_baggage("tenant").value_or("?"));
  std::this_thread::sleep_for(2ms);
}

}  // namespace

int main() {
  prela::init(
      {.service_name = "thread-pool-example", .exporters = {std::make_shared<prela::console_exporter>()}});
  work_queue queue(3);
  boost::asio::thread_pool asio_pool(2);

  {
    auto request = prela::get_tracer().span("index_document", prela::span_type::agent);
    prela::set_baggage("tenant", "acme");

    // 1. A hand-written queue: wrap each job where it is submitted.
    std::vector<std::promise<void>> done(4);
    for (int i = 0; i < 4; ++i) {
      queue.submit(prela::copy_context_to_thread([i, &done] {
        embed(i);
        done[static_cast<std::size_t>(i)].set_value();
      }));
    }
    for (auto& d : done) d.get_future().wait();

    // 2. boost::asio::thread_pool: the same wrapper, posted.
    std::promise<void> stored;
    boost::asio::post(asio_pool, prela::copy_context_to_thread([&stored] {
                        auto span = prela::get_tracer().span("store_vectors", prela::span_type::tool);
                        std::this_thread::sleep_for(3ms);
                        stored.set_value();
                      }));
    stored.get_future().wait();

    // 3. The wrong way, for contrast: a job submitted unwrapped runs with the worker's
    //    own (empty) context, so its span starts a trace of its own.
    std::promise<void> lost;
    queue.submit([&lost] {
      auto span = prela::get_tracer().span("unwrapped_job (a separate trace)", prela::span_type::custom);
      lost.set_value();
    });
    lost.get_future().wait();
  }

  asio_pool.join();
  prela::shutdown();
  std::cout << "the four embed_chunk spans and store_vectors are children of index_document;\n"
               "the unwrapped job is a trace of its own\n";
}
