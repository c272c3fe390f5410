// A loopback OTLP/HTTP receiver for the tests: a Beast server on 127.0.0.1 (port 0) on
// its own thread, answering each request as a script says and keeping what arrived.
// gzip bodies are inflated; protobuf bodies are decoded with protoc when a test asks
// for the spans (otlp_protobuf_decode.hpp).
#pragma once

#include <zlib.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "otlp_protobuf_decode.hpp"

namespace prela::testing {

/// Inflates a gzip body; throws if it is not one.
inline std::string gunzip(const std::string& in) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("not a complete gzip body");
  return out;
}

class otlp_receiver {
 public:
  struct answer {
    unsigned status = 200;
    std::string retry_after;             // Retry-After header, if not empty
    bool never = false;                  // accept the request, never answer
    std::chrono::milliseconds delay{0};  // answer after this long
    /// The answer's body: by default an empty ExportTraceServiceResponse in the
    /// request's encoding ("{}" for JSON, no bytes for protobuf).
    std::optional<std::string> body;
  };
  struct request {
    std::string target;
    std::string content_type;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;                            // inflated when it came gzip-compressed
    std::string raw_body;                        // as it came
    std::chrono::steady_clock::time_point at;
    unsigned answered = 0;  // the status sent (0: none)
  };
  /// Decides the answer to the n-th request (0-based).
  using script = std::function<answer(std::size_t n)>;
  static answer always_ok(std::size_t /*n*/) { return {}; }
  /// Serve https with this certificate and key (PEM files); with `client_ca`, require
  /// a client certificate issued by it.
  struct tls_setup {
    std::string certificate;
    std::string key;
    std::string client_ca;
  };

  otlp_receiver() : otlp_receiver(always_ok) {}
  explicit otlp_receiver(script s, std::optional<tls_setup> tls = std::nullopt)
      : script_(std::move(s)), acceptor_(io_, {boost::asio::ip::address_v4::loopback(), 0}) {
    if (tls) {
      namespace ssl = boost::asio::ssl;
      tls_.emplace(ssl::context::tls_server);
      tls_->use_certificate_chain_file(tls->certificate);
      tls_->use_private_key_file(tls->key, ssl::context::pem);
      if (!tls->client_ca.empty()) {
        tls_->load_verify_file(tls->client_ca);
        tls_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }
    }
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
  std::string endpoint() const {
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) + "/v1/traces";
  }
  /// TLS handshakes that failed on the receiver's side (e.g. no client certificate).
  int failed_handshakes() const { return failed_handshakes_.load(); }

  /// Waits until `n` handshakes failed (or the timeout passes). The receiver counts a
  /// failure after its alert went out, so the client may see the alert first.
  bool wait_for_failed_handshakes(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (failed_handshakes_.load() < n) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  std::vector<request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

  /// A request's ExportTraceServiceRequest in the OTLP JSON mapping, whichever encoding
  /// it came in.
  nlohmann::json document(std::size_t n) const {
    const request r = requests().at(n);
    if (r.content_type == "application/json") return nlohmann::json::parse(r.body);
    if (r.content_type != "application/x-protobuf")
      throw std::runtime_error("content type " + r.content_type);
    std::lock_guard lock(decoded_mu_);
    auto it = decoded_.find(n);
    if (it == decoded_.end()) it = decoded_.emplace(n, decode_otlp_protobuf(r.body)).first;
    return it->second;
  }

  /// Every span of every request answered with 2xx, in the OTLP JSON mapping.
  std::vector<nlohmann::json> accepted_spans() const {
    std::vector<nlohmann::json> out;
    const auto all = requests();
    for (std::size_t n = 0; n < all.size(); ++n) {
      const auto& r = all[n];
      if (r.answered < 200 || r.answered >= 300) continue;
      const auto doc = document(n);
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
      if (tls_) {
        boost::asio::co_spawn(io_, tls_session(std::move(socket)), boost::asio::detached);
      } else {
        boost::asio::co_spawn(io_, session(std::move(socket)), boost::asio::detached);
      }
    }
  }

  boost::asio::awaitable<void> tls_session(boost::asio::ip::tcp::socket socket) {
    boost::beast::ssl_stream<boost::asio::ip::tcp::socket> stream(std::move(socket), *tls_);
    boost::system::error_code ec;
    co_await stream.async_handshake(boost::asio::ssl::stream_base::server,
                                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) {
      ++failed_handshakes_;
      co_return;
    }
    co_await serve(stream);
  }

  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) { co_await serve(socket); }

  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& socket) {
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
        r.raw_body = req.body();
        r.body = r.headers.count("content-encoding") != 0 && r.headers["content-encoding"] == "gzip"
                     ? gunzip(r.raw_body)
                     : r.raw_body;
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
        const bool json = r.content_type == "application/json";
        res.set(http::field::content_type, json ? "application/json" : "application/x-protobuf");
        if (!a.retry_after.empty()) res.set(http::field::retry_after, a.retry_after);
        res.body() = a.body.value_or(json ? "{}" : "");
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
  mutable std::mutex decoded_mu_;
  mutable std::map<std::size_t, nlohmann::json> decoded_;
  std::atomic<int> connections_{0};
  std::atomic<int> failed_handshakes_{0};
  std::optional<boost::asio::ssl::context> tls_;
};

}  // namespace prela::testing
