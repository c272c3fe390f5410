// Decodes OTLP protobuf bodies with protoc (an encoder-independent decoder) against
// tests/otlp/otlp_trace.proto and returns them in the OTLP JSON mapping, so that a test
// can compare them field by field with what the JSON encoder writes for the same spans.
#pragma once

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#ifndef PRELA_TEST_PROTO_DIR
#error "PRELA_TEST_PROTO_DIR must name the directory of otlp_trace.proto"
#endif

namespace prela::testing {

namespace detail {

class text_format_parser {
 public:
  explicit text_format_parser(std::string_view in) : in_(in) {}

  nlohmann::json message(bool top) {
    nlohmann::json out = nlohmann::json::object();
    for (;;) {
      skip_space();
      if (pos_ >= in_.size()) {
        if (!top) throw std::runtime_error("text format: unterminated message");
        return out;
      }
      if (in_[pos_] == '}') {
        if (top) throw std::runtime_error("text format: unbalanced }");
        ++pos_;
        return out;
      }
      const std::string name = identifier();
      skip_space();
      nlohmann::json value;
      if (peek() == '{') {
        ++pos_;
        value = message(false);
      } else {
        expect(':');
        skip_space();
        value = scalar(name);
      }
      add(out, name, std::move(value));
    }
  }

 private:
  static std::string camel(std::string_view snake) {
    std::string out;
    bool upper = false;
    for (char c : snake) {
      if (c == '_') {
        upper = true;
      } else {
        out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
        upper = false;
      }
    }
    return out;
  }

  static void add(nlohmann::json& obj, const std::string& name, nlohmann::json value) {
    static const std::set<std::string> repeated = {"resource_spans", "scope_spans", "spans", "attributes",
                                                   "events",         "values",      "links"};
    const std::string key = camel(name);
    if (repeated.count(name) != 0) {
      obj[key].push_back(std::move(value));
    } else {
      if (obj.contains(key)) throw std::runtime_error("text format: field " + name + " twice");
      obj[key] = std::move(value);
    }
  }

  nlohmann::json scalar(const std::string& field) {
    if (peek() == '"') {
      const std::string bytes = quoted();
      if (field == "trace_id" || field == "span_id" || field == "parent_span_id") {
        static constexpr char hex[] = "0123456789abcdef";
        std::string h;
        for (unsigned char c : bytes) {
          h.push_back(hex[c >> 4]);
          h.push_back(hex[c & 15]);
        }
        return h;
      }
      return bytes;
    }
    const std::string word = token();
    if (field == "kind") {
      static const std::map<std::string, int> kinds = {
          {"SPAN_KIND_UNSPECIFIED", 0}, {"SPAN_KIND_INTERNAL", 1}, {"SPAN_KIND_SERVER", 2},
          {"SPAN_KIND_CLIENT", 3},      {"SPAN_KIND_PRODUCER", 4}, {"SPAN_KIND_CONSUMER", 5}};
      return kinds.at(word);
    }
    if (field == "code") {
      static const std::map<std::string, int> codes = {
          {"STATUS_CODE_UNSET", 0}, {"STATUS_CODE_OK", 1}, {"STATUS_CODE_ERROR", 2}};
      return codes.at(word);
    }
    if (word == "true") return true;
    if (word == "false") return false;
    // The OTLP JSON mapping writes 64-bit integers as strings.
    if (field == "start_time_unix_nano" || field == "end_time_unix_nano" || field == "time_unix_nano" ||
        field == "int_value" || field == "rejected_spans") {
      return word;
    }
    if (field == "double_value") {
      if (word == "inf") return "Infinity";
      if (word == "-inf") return "-Infinity";
      if (word == "nan") return "NaN";
      return std::stod(word);
    }
    return std::stoull(word);
  }

  std::string quoted() {
    expect('"');
    std::string out;
    while (pos_ < in_.size() && in_[pos_] != '"') {
      char c = in_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      c = in_.at(pos_++);
      switch (c) {
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case '"':
          out.push_back('"');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '\\':
          out.push_back('\\');
          break;
        default:
          if (c >= '0' && c <= '7') {  // up to three octal digits
            int v = c - '0';
            for (int k = 0; k < 2 && pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '7'; ++k) {
              v = v * 8 + (in_[pos_++] - '0');
            }
            out.push_back(static_cast<char>(v));
          } else if (c == 'x') {
            int v = 0;
            for (int k = 0;
                 k < 2 && pos_ < in_.size() && std::isxdigit(static_cast<unsigned char>(in_[pos_])); ++k) {
              v = v * 16 + std::stoi(std::string(1, in_[pos_++]), nullptr, 16);
            }
            out.push_back(static_cast<char>(v));
          } else {
            throw std::runtime_error(std::string("text format: escape \\") + c);
          }
      }
    }
    expect('"');
    return out;
  }

  std::string identifier() {
    const std::string word = token();
    if (word.empty())
      throw std::runtime_error("text format: expected a field name at " + std::to_string(pos_));
    return word;
  }

  std::string token() {
    const std::size_t start = pos_;
    while (pos_ < in_.size() && !std::isspace(static_cast<unsigned char>(in_[pos_])) && in_[pos_] != ':' &&
           in_[pos_] != '{' && in_[pos_] != '}') {
      ++pos_;
    }
    return std::string(in_.substr(start, pos_ - start));
  }

  void skip_space() {
    while (pos_ < in_.size() && std::isspace(static_cast<unsigned char>(in_[pos_]))) ++pos_;
  }
  char peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) throw std::runtime_error(std::string("text format: expected ") + c);
    ++pos_;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// `message` is ExportTraceServiceRequest or ExportTraceServiceResponse. Throws if protoc
/// rejects the bytes.
inline nlohmann::json decode_otlp_protobuf(const std::string& body,
                                           const std::string& message = "ExportTraceServiceRequest") {
  char in_path[] = "/tmp/prela-otlp-XXXXXX";
  const int fd = ::mkstemp(in_path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  const std::string in_file = in_path;
  const std::string out_file = in_file + ".txt";
  std::ofstream(in_file, std::ios::binary).write(body.data(), static_cast<std::streamsize>(body.size()));
  const std::string cmd = std::string("protoc --proto_path=") + PRELA_TEST_PROTO_DIR +
                          " --decode=prela.test.otlp." + message + " otlp_trace.proto < " + in_file + " > " +
                          out_file + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::stringstream text;
  text << std::ifstream(out_file).rdbuf();
  std::remove(in_file.c_str());
  std::remove(out_file.c_str());
  if (rc != 0) throw std::runtime_error("protoc --decode failed: " + text.str());
  const std::string decoded = text.str();
  return detail::text_format_parser(decoded).message(true);
}

}  // namespace prela::testing
