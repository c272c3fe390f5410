// OTLP/HTTP client: Beast on an io_context driven by the exporter's own lane thread.
// Each export runs one coroutine (resolve, connect, write, read with deadlines) to
// completion; a keep-alive connection is reused across exports.
#include "prela/exporters/otlp_http.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <zlib.h>

#include "detail/diagnostics.hpp"
#include "detail/http_token.hpp"
#include "detail/printable.hpp"
#include "detail/text.hpp"
#include "exporters/http_header.hpp"
#include "prela/ids.hpp"
#include "prela/tracer.hpp"
#include "prela/version.hpp"

namespace prela {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

struct parsed_url {
  bool tls = false;  // https
  std::string host;  // without brackets for IPv6
  std::string port;
  std::string target;
  std::string host_header;
};

bool header_safe(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0x20 && b != 0x7f;
  });
}

parsed_url parse_endpoint(const std::string& url) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("prela: OTLP endpoint \"" + url + "\": " + why);
  };
  std::string_view rest = url;
  parsed_url out;
  if (rest.substr(0, 8) == "https://") {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else {
    throw bad("expected an http:// or https:// URL");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos)
    throw bad("user information in the URL is not supported");
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw bad("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad("unexpected characters after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) throw bad("no host");
  if (port.empty()) port = out.tls ? "443" : "80";
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) throw bad("invalid port");
  out.host = std::string(host);
  out.port = std::string(port);
  out.host_header = std::string(authority);
  if (!header_safe(out.target) || out.target.find(' ') != std::string::npos) throw bad("invalid path");
  return out;
}

// ExportTraceServiceResponse.partial_success: how many spans the receiver rejected and
// why, from either encoding. A malformed answer reads as nothing rejected.
struct partial_success {
  std::uint64_t rejected = 0;
  std::string message;
};

// What a TLS error says when a retry cannot help: the server refused our certificate
// or our protocol versions, or does not speak TLS on that port. Empty otherwise. In TLS
// 1.3 a server that refuses the client certificate says so after the client's side of
// the handshake is done, so this is read on every error, not only the handshake's.
std::string_view tls_refusal(const boost::system::error_code& ec) noexcept {
  if (ec.category() != net::error::get_ssl_category()) return {};
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "the server requires a client certificate: set client_certificate_file and client_key_file";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      return "the server rejected our client certificate";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:  // TLS 1.2 servers also send it for a missing client
                                               // certificate
      return "the server refused the handshake: no TLS version or cipher in common (TLS 1.2 or later), or it "
             "requires a client certificate";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return "the server accepts no TLS version we offer (TLS 1.2 or later)";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
      return "the server does not speak TLS on this port: is the endpoint http://?";
    default:
      return {};
  }
}

enum class outcome { delivered, retryable, fatal };

struct attempt_result {
  outcome kind = outcome::fatal;
  std::string reason;
  std::optional<std::chrono::milliseconds> retry_after;
  partial_success partial;
  bool on_reused_connection = false;
  bool got_response = false;
};

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) {
  // delay-seconds only; an HTTP-date falls back to the exporter's own backoff.
  v = detail::trim(v);
  unsigned long long secs = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min<unsigned long long>(secs, 86400)) *
                                   1000);
}

// The JSON answer, read without a JSON library: two fields of one small object.
partial_success parse_json_response(std::string_view body) {
  partial_success out;
  if (const std::size_t key = body.find("\"rejectedSpans\""); key != std::string_view::npos) {
    std::size_t i = body.find(':', key);
    if (i != std::string_view::npos) {
      ++i;
      while (i < body.size() && (body[i] == ' ' || body[i] == '"')) ++i;
      std::from_chars(body.data() + i, body.data() + body.size(), out.rejected);
    }
  }
  if (const std::size_t key = body.find("\"errorMessage\""); key != std::string_view::npos) {
    std::size_t i = body.find(':', key);
    if (i != std::string_view::npos) i = body.find('"', i);
    if (i != std::string_view::npos) {
      std::size_t end = i + 1;
      while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
      out.message = std::string(body.substr(i + 1, std::min(end, body.size()) - i - 1));
    }
  }
  return out;
}

// Reads one varint from the front of `in`; false past the end or over ten bytes.
bool read_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70 && !in.empty(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Calls on_field(number, wire type, varint value, length-delimited bytes) for each field;
// false on malformed input.
template <class F>
bool for_each_field(std::string_view in, F&& on_field) {
  while (!in.empty()) {
    std::uint64_t tag = 0;
    if (!read_varint(in, tag)) return false;
    std::uint64_t value = 0;
    std::string_view bytes;
    switch (tag & 7) {
      case 0:
        if (!read_varint(in, value)) return false;
        break;
      case 1:
      case 5: {
        const std::size_t n = (tag & 7) == 1 ? 8 : 4;
        if (in.size() < n) return false;
        in.remove_prefix(n);
        break;
      }
      case 2:
        if (!read_varint(in, value) || value > in.size()) return false;
        bytes = in.substr(0, value);
        in.remove_prefix(value);
        break;
      default:
        return false;
    }
    on_field(tag >> 3, tag & 7, value, bytes);
  }
  return true;
}

partial_success parse_protobuf_response(std::string_view body) {
  partial_success out;
  bool well_formed = true;
  well_formed =
      for_each_field(body,
                     [&](std::uint64_t field, std::uint64_t type, std::uint64_t, std::string_view bytes) {
                       if (field != 1 || type != 2) return;
                       well_formed =
                           well_formed && for_each_field(bytes, [&](std::uint64_t f, std::uint64_t t,
                                                                    std::uint64_t v, std::string_view b) {
                             if (f == 1 && t == 0) out.rejected = v;
                             if (f == 2 && t == 2) out.message = std::string(b);
                           });
                     }) &&
      well_formed;
  // rejected_spans is an int64: a negative count is malformed too.
  if (!well_formed || static_cast<std::int64_t>(out.rejected) < 0) return {};
  return out;
}

// gzip (RFC 1952) of a whole body, with one zlib stream reused across exports.
class gzip_compressor {
 public:
  gzip_compressor() = default;
  gzip_compressor(const gzip_compressor&) = delete;
  gzip_compressor& operator=(const gzip_compressor&) = delete;
  ~gzip_compressor() {
    if (ready_) deflateEnd(&z_);
  }

  /// Compresses `in` into `out`; false if zlib failed (out of memory).
  bool compress(const std::string& in, std::string& out) {
    if (!ready_) {
      // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
      if (deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
      ready_ = true;
    } else if (deflateReset(&z_) != Z_OK) {
      return false;
    }
    out.resize(deflateBound(&z_, static_cast<uLong>(in.size())));
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z_, Z_FINISH) != Z_STREAM_END) return false;
    out.resize(out.size() - z_.avail_out);
    return true;
  }

 private:
  z_stream z_{};
  bool ready_ = false;
};

}  // namespace

struct otlp_http_exporter::connection {
  parsed_url url;
  net::io_context io;
  std::optional<ssl::context> tls;                                               // for an https endpoint
  std::optional<boost::beast::tcp_stream> stream;                                // http
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_stream;  // https
  std::string body;                                                              // the encoded request
  std::string compressed;  // the body as sent, when compressing
  gzip_compressor gzip;
  bool reported_rejection = false;  // the first partial success is reported, later ones counted

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> exported{0};
  std::atomic<std::uint64_t> failed_batches{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> bytes_sent{0};

  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mu
  bool failing = false;   // reported through diagnose(); only the lane thread touches it

  bool connected() const { return stream.has_value() || tls_stream.has_value(); }

  // A connection-level failure: retried, on a fresh connection, unless the server has
  // refused our TLS (that would fail the same way again).
  attempt_result failed(attempt_result r, std::string_view what, const boost::system::error_code& ec) {
    const std::string_view refusal = tls_refusal(ec);
    r.kind = refusal.empty() ? outcome::retryable : outcome::fatal;
    r.reason = std::string(what) + ": " + ec.message();
    if (!refusal.empty()) r.reason += "; " + std::string(refusal);
    disconnect();
    return r;
  }
  void disconnect() {
    stream.reset();
    tls_stream.reset();
  }

  net::awaitable<attempt_result> attempt(const otlp_http_options& options, clock::time_point deadline) {
    attempt_result r;
    boost::system::error_code ec;
    auto fail = [&](std::string_view what) { return failed(std::move(r), what, ec); };
    r.on_reused_connection = connected();
    if (!connected()) {
      tcp::resolver resolver(io);
      net::steady_timer guard(io);
      guard.expires_at(deadline);
      guard.async_wait([&](boost::system::error_code e) {
        if (!e) resolver.cancel();
      });
      auto endpoints =
          co_await resolver.async_resolve(url.host, url.port, net::redirect_error(net::use_awaitable, ec));
      guard.cancel();
      if (ec) co_return fail("resolve " + url.host);
      boost::beast::tcp_stream tcp_stream(io);
      tcp_stream.expires_at(deadline);
      co_await tcp_stream.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return fail("connect to " + url.host_header);
      if (!tls) {
        stream.emplace(std::move(tcp_stream));
      } else {
        tls_stream.emplace(std::move(tcp_stream), *tls);
        SSL* handle = tls_stream->native_handle();
        // The certificate must name the host we asked for: an IP address as an IP
        // SAN, a name through SNI and a DNS name match.
        boost::system::error_code not_ip;
        (void)net::ip::make_address(url.host, not_ip);
        const bool named = not_ip
                               ? SSL_set_tlsext_host_name(handle, url.host.c_str()) == 1 &&
                                     SSL_set1_host(handle, url.host.c_str()) == 1
                               : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), url.host.c_str()) == 1;
        if (!named) {
          disconnect();
          r.kind = outcome::fatal;
          r.reason = "TLS to " + url.host_header + ": cannot set the name to verify";
          co_return r;
        }
        co_await tls_stream->async_handshake(ssl::stream_base::client,
                                             net::redirect_error(net::use_awaitable, ec));
        if (ec) {
          const long verdict = SSL_get_verify_result(handle);
          if (verdict != X509_V_OK) {
            // A certificate that does not verify will not verify on retry either.
            disconnect();
            r.kind = outcome::fatal;
            r.reason = "TLS handshake with " + url.host_header + ": server certificate rejected (" +
                       X509_verify_cert_error_string(verdict) + ")";
            co_return r;
          }
          co_return fail("TLS handshake with " + url.host_header);
        }
      }
    }
    if (tls_stream) co_return co_await exchange(*tls_stream, options, deadline, std::move(r));
    co_return co_await exchange(*stream, options, deadline, std::move(r));
  }

  // Sends the request and reads the answer on a connected stream.
  template <class Stream>
  net::awaitable<attempt_result> exchange(Stream& s, const otlp_http_options& options,
                                          clock::time_point deadline, attempt_result r) {
    boost::system::error_code ec;
    auto fail = [&](std::string_view what) { return failed(std::move(r), what, ec); };
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    req.set(http::field::host, url.host_header);
    req.set(http::field::user_agent, std::string("prela/") + prela::version);
    const bool json = options.protocol == otlp_protocol::http_json;
    req.set(http::field::content_type, json ? "application/json" : "application/x-protobuf");
    const bool gzipped = options.compression == otlp_compression::gzip;
    if (gzipped) req.set(http::field::content_encoding, "gzip");
    req.keep_alive(true);
    for (const auto& [name, value] : options.headers) req.set(name, value);
    std::string& payload = gzipped ? compressed : body;
    req.body() = std::move(payload);
    req.prepare_payload();
    boost::beast::get_lowest_layer(s).expires_at(deadline);
    co_await http::async_write(s, req, net::redirect_error(net::use_awaitable, ec));
    payload = std::move(req.body());  // keep the buffer for a retry
    bytes_sent.fetch_add(payload.size(), std::memory_order_relaxed);
    if (ec) co_return fail("send");

    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    co_await http::async_read(s, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return fail("read the answer");
    r.got_response = true;
    const auto& res = parser.get();
    if (!res.keep_alive()) disconnect();
    const unsigned status = res.result_int();
    if (status >= 200 && status < 300) {
      r.kind = outcome::delivered;
      const auto type = res[http::field::content_type];
      const bool json_answer = type.find("json") != boost::beast::string_view::npos ||
                               (type.empty() && options.protocol == otlp_protocol::http_json);
      r.partial = json_answer ? parse_json_response(res.body()) : parse_protobuf_response(res.body());
      co_return r;
    }
    r.reason = "HTTP " + std::to_string(status);
    // The receiver's words, escaped: a hostile one must not forge lines of our output.
    if (!res.body().empty()) r.reason += ": " + prela::detail::printable(res.body(), 200);
    if (status == 429 || status == 502 || status == 503 || status == 504) {
      r.kind = outcome::retryable;
      if (auto it = res.find(http::field::retry_after); it != res.end()) {
        r.retry_after = parse_retry_after(std::string_view(it->value().data(), it->value().size()));
      }
    } else {
      r.kind = outcome::fatal;
    }
    co_return r;
  }

  attempt_result run_attempt(const otlp_http_options& options, clock::time_point deadline) {
    std::optional<attempt_result> result;
    net::co_spawn(io, attempt(options, deadline), [&](std::exception_ptr e, attempt_result r) {
      if (e) {
        r.kind = outcome::retryable;
        r.reason = "unexpected error";
        disconnect();
      }
      result = std::move(r);
    });
    io.restart();
    io.run();
    return result.value_or(attempt_result{outcome::fatal, "not run", {}, {}, false, false});
  }

  /// Waits `d` unless shutdown starts; false if it did.
  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return !wake.wait_for(lock, d, [&] { return stopping; });
  }

  void report_rejection(const std::string& endpoint, std::uint64_t n, const std::string& message) {
    if (reported_rejection) return;
    reported_rejection = true;
    prela::detail::diagnose(
        "prela: OTLP receiver " + prela::detail::printable(endpoint, 200) + " rejected " + std::to_string(n) +
        " spans of a batch (" +
        (message.empty() ? std::string("no reason given") : prela::detail::printable(message, 200)) +
        "); further rejections are counted in export_failures, not reported");
  }

  void report(bool now_failing, const std::string& endpoint, const std::string& reason) {
    if (now_failing == failing) return;
    failing = now_failing;
    const std::string where = prela::detail::printable(endpoint, 200);
    if (now_failing) {
      prela::detail::diagnose("prela: OTLP export to " + where + " is failing (" + reason +
                              "); batches not delivered within the timeout are dropped and counted");
    } else {
      prela::detail::diagnose("prela: OTLP export to " + where + " delivers again");
    }
  }
};

otlp_http_exporter::otlp_http_exporter(otlp_http_options options)
    : options_(std::move(options)), conn_(std::make_unique<connection>()) {
  conn_->url = parse_endpoint(options_.endpoint);
  if (options_.timeout <= std::chrono::milliseconds::zero() || options_.timeout > limits::max_duration) {
    throw std::invalid_argument("prela: OTLP timeout must be 1 to 86400000 ms (a day)");
  }
  if (options_.max_backoff > limits::max_duration) {
    throw std::invalid_argument("prela: OTLP max_backoff must be at most 86400000 ms (a day)");
  }
  if (options_.initial_backoff < std::chrono::milliseconds::zero() ||
      options_.max_backoff < options_.initial_backoff) {
    throw std::invalid_argument("prela: OTLP backoff must satisfy 0 <= initial_backoff <= max_backoff");
  }
  for (const auto& [name, value] : options_.headers) {
    if (!detail::valid_http_header(name, value)) {
      throw std::invalid_argument("prela: OTLP header \"" + name + "\" is not a valid HTTP header");
    }
  }
  if (options_.client_certificate_file.empty() != options_.client_key_file.empty()) {
    throw std::invalid_argument("prela: OTLP client_certificate_file and client_key_file go together (mTLS)");
  }
  if (conn_->url.tls) {
    auto& ctx = conn_->tls.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(ssl::verify_peer);
    const auto load = [](const char* what, const std::filesystem::path& file, const auto& step) {
      try {
        step();
      } catch (const boost::system::system_error& e) {
        throw std::invalid_argument(std::string("prela: OTLP ") + what + " \"" +
                                    detail::printable(file.string(), 200) + "\" cannot be used: " + e.what());
      }
    };
    if (options_.certificate_file.empty()) {
      load("system trust store", {}, [&] { ctx.set_default_verify_paths(); });
    } else {
      load("certificate_file", options_.certificate_file,
           [&] { ctx.load_verify_file(options_.certificate_file.string()); });
    }
    if (!options_.client_certificate_file.empty()) {
      load("client_certificate_file", options_.client_certificate_file,
           [&] { ctx.use_certificate_chain_file(options_.client_certificate_file.string()); });
      load("client_key_file", options_.client_key_file,
           [&] { ctx.use_private_key_file(options_.client_key_file.string(), ssl::context::pem); });
    }
  }
}

bool detail::valid_http_header(std::string_view name, std::string_view value) noexcept {
  return is_http_token(name) && header_safe(value);
}

otlp_http_exporter::~otlp_http_exporter() = default;

export_result otlp_http_exporter::export_spans(std::span<const span_data> spans) {
  if (spans.empty()) return export_result::success;
  connection& c = *conn_;
  {
    std::lock_guard lock(c.mu);
    if (c.stopping) return export_result::failure;
  }
  c.body.clear();
  if (options_.protocol == otlp_protocol::http_json) {
    otlp::encode_json(spans, c.body);
  } else {
    otlp::encode_protobuf(spans, c.body);
  }
  if (options_.compression == otlp_compression::gzip && !c.gzip.compress(c.body, c.compressed)) {
    c.failed_batches.fetch_add(1, std::memory_order_relaxed);
    c.dropped.fetch_add(spans.size(), std::memory_order_relaxed);
    c.report(true, options_.endpoint, "gzip compression failed (out of memory)");
    return export_result::failure;
  }

  const auto deadline = clock::now() + options_.timeout;
  auto backoff = options_.initial_backoff;
  bool quick_retry_used = false;
  std::string reason;
  for (;;) {
    c.requests.fetch_add(1, std::memory_order_relaxed);
    attempt_result r = c.run_attempt(options_, deadline);
    if (r.kind == outcome::delivered) {
      const std::uint64_t rejected = std::min<std::uint64_t>(r.partial.rejected, spans.size());
      c.exported.fetch_add(spans.size() - rejected, std::memory_order_relaxed);
      c.rejected.fetch_add(rejected, std::memory_order_relaxed);
      c.report(false, options_.endpoint, {});
      if (rejected != 0) {
        report_rejected(rejected);
        c.report_rejection(options_.endpoint, rejected, r.partial.message);
      }
      return export_result::success;
    }
    reason = std::move(r.reason);
    if (r.kind == outcome::fatal) break;
    // A kept-alive connection the server had closed: try a fresh one at once.
    if (r.on_reused_connection && !r.got_response && !quick_retry_used) {
      quick_retry_used = true;
      c.retries.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    std::chrono::milliseconds wait = r.retry_after.value_or(std::chrono::milliseconds(0));
    if (!r.retry_after) {
      // Full jitter on the upper half: between backoff/2 and backoff.
      const auto half = backoff.count() / 2;
      const auto spread = static_cast<std::uint64_t>(backoff.count() - half + 1);
      wait =
          std::chrono::milliseconds(half + static_cast<std::int64_t>(span_id::generate().value() % spread));
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    if (clock::now() + wait >= deadline) {
      reason += "; no time left to retry within " + std::to_string(options_.timeout.count()) + " ms";
      break;
    }
    if (!c.sleep_for(wait)) {
      reason += "; shutting down";
      break;
    }
    c.retries.fetch_add(1, std::memory_order_relaxed);
  }
  c.failed_batches.fetch_add(1, std::memory_order_relaxed);
  c.dropped.fetch_add(spans.size(), std::memory_order_relaxed);
  c.report(true, options_.endpoint, reason);
  return export_result::failure;
}

bool otlp_http_exporter::shutdown(std::chrono::milliseconds /*timeout*/) {
  {
    std::lock_guard lock(conn_->mu);
    conn_->stopping = true;
  }
  conn_->wake.notify_all();
  // Called on the lane thread after its last export: nothing is running on io.
  conn_->disconnect();
  return true;
}

otlp_http_stats otlp_http_exporter::stats() const noexcept {
  const connection& c = *conn_;
  return {c.requests.load(std::memory_order_relaxed),  c.retries.load(std::memory_order_relaxed),
          c.exported.load(std::memory_order_relaxed),  c.failed_batches.load(std::memory_order_relaxed),
          c.dropped.load(std::memory_order_relaxed),   c.rejected.load(std::memory_order_relaxed),
          c.bytes_sent.load(std::memory_order_relaxed)};
}

}  // namespace prela
