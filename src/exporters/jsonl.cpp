#include "prela/exporters/jsonl.hpp"

#include "file_sink.hpp"
#include "json_writer.hpp"

namespace prela {

namespace json = detail::json;

void append_span_json(std::string& out, const span_data& s) {
  char hex[32];
  out.append(R"({"span_id":")");
  s.span_id.to_hex(hex);
  out.append(hex, 16);
  out.append(R"(","trace_id":")");
  s.trace_id.to_hex(hex);
  out.append(hex, 32);
  out.append(R"(","parent_span_id":)");
  if (s.parent_span_id.is_valid()) {
    s.parent_span_id.to_hex(hex);
    out.push_back('"');
    out.append(hex, 16);
    out.push_back('"');
  } else {
    out.append("null");
  }
  out.append(R"(,"name":)");
  json::append_string(out, s.name);
  out.append(R"(,"span_type":")");
  out.append(to_string(s.type));
  out.append(R"(","started_at":")");
  json::append_iso8601(out, s.start_time);
  out.append(R"(","ended_at":")");
  json::append_iso8601(out, s.end_time);
  out.append(R"(","duration_ms":)");
  json::append_double(out, static_cast<double>(s.duration().count()) / 1e6);
  out.append(R"(,"status":")");
  out.append(to_string(s.status));
  out.append(R"(","status_message":)");
  if (s.status_message.empty()) {
    out.append("null");
  } else {
    json::append_string(out, s.status_message);
  }
  out.append(R"(,"attributes":{)");
  json::append_members(out, s.attributes);
  out.append(R"(},"events":[)");
  bool first = true;
  for (const auto& e : s.events) {
    if (!first) out.push_back(',');
    first = false;
    out.append(R"({"name":)");
    json::append_string(out, e.name);
    out.append(R"(,"timestamp":")");
    json::append_iso8601(out, e.time);
    out.append(R"(","attributes":{)");
    json::append_members(out, e.attributes);
    out.append("}}");
  }
  out.append("]}");
}

jsonl_exporter::jsonl_exporter(std::filesystem::path path)
    : sink_(std::make_unique<detail::file_sink>(std::move(path), detail::file_sink::mode::append, "jsonl")) {}

jsonl_exporter::~jsonl_exporter() = default;

const std::filesystem::path& jsonl_exporter::path() const noexcept { return sink_->path(); }

export_result jsonl_exporter::export_spans(std::span<const span_data> spans) {
  std::lock_guard lock(mu_);
  buffer_.clear();
  for (const auto& s : spans) {
    append_span_json(buffer_, s);
    buffer_.push_back('\n');
  }
  return sink_->write(buffer_) ? export_result::success : export_result::failure;
}

bool jsonl_exporter::force_flush(std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  return sink_->take_ok();  // each batch is written through at once: nothing is buffered
}

bool jsonl_exporter::shutdown(std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  const bool ok = sink_->take_ok();
  return sink_->close() && ok;
}

}  // namespace prela
