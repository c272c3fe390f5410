// A loopback OTLP/HTTP receiver for the tests: a Beast server on 127.0.0.1 (port 0) on
// its own thread, answering each request as a script says and keeping what arrived.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace prela::testing {

class otlp_receiver {
 public:
  struct answer {
    unsigned status = 200;
    std::string retry_after;            // Retry-After header, if not empty
    bool never = false;                 // accept the request, never answer
    std::chrono::milliseconds delay{0}; // answer after this long
    std::string body = "{}";
  };
  struct request {
    std::string target;
    std::string content_type;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::chrono::steady_clock::time_point at;
    unsigned answered = 0;  // the status sent (0: none)
  };
  /// Decides the answer to the n-th request (0-based).
  using script = std::function<answer(std::size_t n)>;
  static answer always_ok(std::size_t /*n*/) { return {}; }

  otlp_receiver() : otlp_receiver(always_ok) {}
  explicit otlp_receiver(script s)
      : script_(std::move(s)), acceptor_(io_, {boost::asio::ip::address_v4::loopback(), 0}) {
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~otlp_receiver() { stop(); }

  void stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  unsigned short port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

  std::vector<request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

  /// Every span of every request answered with 2xx, as parsed JSON.
  std::vector<nlohmann::json> accepted_spans() const {
    std::vector<nlohmann::json> out;
    for (const auto& r : requests()) {
      if (r.answered < 200 || r.answered >= 300) continue;
      const auto doc = nlohmann::json::parse(r.body);
      for (const auto& rs : doc.at("resourceSpans")) {
        for (const auto& ss : rs.at("scopeSpans")) {
          for (const auto& s : ss.at("spans")) out.push_back(s);
        }
      }
    }
    return out;
  }

  /// Waits until `n` spans were accepted (or the timeout passes).
  bool wait_for_spans(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (accepted_spans().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(boost::asio::use_awaitable);
      ++connections_;
      boost::asio::co_spawn(io_, session(std::move(socket)), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    try {
      for (;;) {
        http::request<http::string_body> req;
        co_await http::async_read(socket, buffer, req, boost::asio::use_awaitable);
        request r;
        r.target = std::string(req.target());
        r.content_type = std::string(req[http::field::content_type]);
        for (const auto& f : req) {
          std::string name(f.name_string());
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          r.headers[name] = std::string(f.value());
        }
        r.body = req.body();
        r.at = std::chrono::steady_clock::now();
        std::size_t n = 0;
        {
          std::lock_guard lock(mu_);
          n = requests_.size();
          requests_.push_back(r);
        }
        const answer a = script_(n);
        if (a.never) {
          boost::asio::steady_timer forever(socket.get_executor(), std::chrono::hours(1));
          co_await forever.async_wait(boost::asio::use_awaitable);
          co_return;
        }
        if (a.delay.count() > 0) {
          boost::asio::steady_timer t(socket.get_executor(), a.delay);
          co_await t.async_wait(boost::asio::use_awaitable);
        }
        http::response<http::string_body> res{static_cast<http::status>(a.status), 11};
        res.set(http::field::content_type, "application/json");
        if (!a.retry_after.empty()) res.set(http::field::retry_after, a.retry_after);
        res.body() = a.body;
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        {
          std::lock_guard lock(mu_);
          requests_[n].answered = a.status;
        }
        co_await http::async_write(socket, res, boost::asio::use_awaitable);
        if (!req.keep_alive()) co_return;
      }
    } catch (const std::exception&) {
      // the client closed the connection
    }
  }

  script script_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<unsigned short> port_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<request> requests_;
  std::atomic<int> connections_{0};
};

}  // namespace prela::testing
