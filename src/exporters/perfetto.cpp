#include "prela/exporters/perfetto.hpp"

#include "file_sink.hpp"
#include "json_writer.hpp"

namespace prela {

namespace json = detail::json;

namespace {

bool nests_or_disjoint(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1) {
  return a1 <= b0 || b1 <= a0 || (a0 <= b0 && b1 <= a1) || (b0 <= a0 && a1 <= b1);
}

void append_metadata(std::string& out, const char* what, int pid, int tid, std::string_view name) {
  out.append(R"({"ph":"M","name":")");
  out.append(what);
  out.append(R"(","pid":)");
  json::append_int(out, pid);
  out.append(R"(,"tid":)");
  json::append_int(out, tid);
  out.append(R"(,"args":{"name":)");
  json::append_string(out, name);
  out.append("}}");
}

/// The head of a complete ("X", with its duration) or an instant ("i") event, given as
/// `phase`, up to and including the opening brace of its args.
void append_event_head(std::string& out, std::string_view phase, std::string_view name, span_type type,
                       std::chrono::nanoseconds ts, const std::chrono::nanoseconds* duration, int pid,
                       int tid) {
  out.append(R"({"ph":)");
  out.append(phase);
  out.append(R"(,"name":)");
  json::append_string(out, name);
  out.append(R"(,"cat":")");
  out.append(to_string(type));
  out.append(R"(","ts":)");
  json::append_micros(out, ts);
  if (duration != nullptr) {
    out.append(R"(,"dur":)");
    json::append_micros(out, *duration);
  }
  out.append(R"(,"pid":)");
  json::append_int(out, pid);
  out.append(R"(,"tid":)");
  json::append_int(out, tid);
  out.append(R"(,"args":{)");
}

}  // namespace

perfetto_exporter::perfetto_exporter(std::filesystem::path path)
    : sink_(std::make_unique<detail::file_sink>(std::move(path), detail::file_sink::mode::truncate,
                                                "perfetto", "[\n")) {}

perfetto_exporter::~perfetto_exporter() {
  std::lock_guard lock(mu_);
  close_locked();
}

const std::filesystem::path& perfetto_exporter::path() const noexcept { return sink_->path(); }

int perfetto_exporter::track_for(trace_tracks& t, const span_data& s) {
  const std::int64_t start = s.start_time.count();
  const std::int64_t end = std::max(s.end_time.count(), start);
  for (std::size_t i = 0; i < t.tracks.size(); ++i) {
    auto& placed = t.tracks[i];
    const bool fits = std::all_of(placed.begin(), placed.end(), [&](const auto& iv) {
      return nests_or_disjoint(iv.first, iv.second, start, end);
    });
    if (fits) {
      placed.emplace_back(start, end);
      return static_cast<int>(i) + 1;
    }
  }
  t.tracks.push_back({{start, end}});
  return static_cast<int>(t.tracks.size());
}

export_result perfetto_exporter::export_spans(std::span<const span_data> spans) {
  std::lock_guard lock(mu_);
  if (!sink_->is_open()) return export_result::failure;
  buffer_.clear();
  const bool was_first = first_event_;
  auto separate = [&] {
    if (!first_event_) buffer_.append(",\n");
    first_event_ = false;
  };
  char hex[32];
  for (const auto& s : spans) {
    auto [it, inserted] = traces_.try_emplace(s.trace_id);
    trace_tracks& t = it->second;
    if (inserted) {
      t.pid = next_pid_++;
      trace_order_.push_back(s.trace_id);
      separate();
      s.trace_id.to_hex(hex);
      append_metadata(buffer_, "process_name", t.pid, 0, "trace " + std::string(hex, 32));
    }
    const std::size_t tracks_before = t.tracks.size();
    const int tid = track_for(t, s);
    if (t.tracks.size() != tracks_before) {
      separate();
      append_metadata(buffer_, "thread_name", t.pid, tid, "task " + std::to_string(tid));
    }
    if (!s.parent_span_id.is_valid() || s.parent_is_remote) {
      // The local root: name the process after it.
      separate();
      s.trace_id.to_hex(hex);
      append_metadata(buffer_, "process_name", t.pid, 0, s.name + " (trace " + std::string(hex, 8) + ")");
    }

    separate();
    const auto duration = std::max(s.duration(), std::chrono::nanoseconds(0));
    append_event_head(buffer_, R"("X")", s.name, s.type, s.start_time, &duration, t.pid, tid);
    buffer_.append(R"("span_id":")");
    s.span_id.to_hex(hex);
    buffer_.append(hex, 16);
    buffer_.append(R"(","parent_span_id":")");
    if (s.parent_span_id.is_valid()) {
      s.parent_span_id.to_hex(hex);
      buffer_.append(hex, 16);
    }
    buffer_.append(R"(","trace_id":")");
    s.trace_id.to_hex(hex);
    buffer_.append(hex, 32);
    buffer_.append(R"(","status":")");
    buffer_.append(to_string(s.status));
    buffer_.push_back('"');
    if (!s.status_message.empty()) {
      buffer_.append(R"(,"status_message":)");
      json::append_string(buffer_, s.status_message);
    }
    json::append_members(buffer_, s.attributes, /*comma_first=*/true);
    buffer_.append("}}");

    for (const auto& e : s.events) {
      separate();
      append_event_head(buffer_, R"("i","s":"t")", e.name, s.type, e.time, nullptr, t.pid, tid);
      json::append_members(buffer_, e.attributes);
      buffer_.append("}}");
    }
  }
  while (trace_order_.size() > max_remembered_traces) {
    traces_.erase(trace_order_.front());
    trace_order_.pop_front();
  }
  if (sink_->write(buffer_)) return export_result::success;
  first_event_ = was_first;  // nothing of the batch is in the file
  return export_result::failure;
}

bool perfetto_exporter::force_flush(std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  return sink_->take_ok();  // each batch is written through at once: nothing is buffered
}

bool perfetto_exporter::close_locked() {
  if (!sink_->is_open()) return false;
  const bool closed = sink_->write("\n]\n");
  const bool ok = sink_->take_ok();
  return sink_->close() && closed && ok;
}

bool perfetto_exporter::shutdown(std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  return close_locked();
}

}  // namespace prela
