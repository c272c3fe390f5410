#include "prela/exporters/console.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <unordered_map>

#include "detail/printable.hpp"

namespace prela {
namespace {

std::string format_duration(std::chrono::nanoseconds d) {
  char buf[32];
  const double ns = static_cast<double>(d.count());
  if (ns < 1e3) {
    std::snprintf(buf, sizeof buf, "%.0f ns", ns);
  } else if (ns < 1e6) {
    std::snprintf(buf, sizeof buf, "%.1f us", ns / 1e3);
  } else if (ns < 1e9) {
    std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3f s", ns / 1e9);
  }
  return buf;
}

// Display width of UTF-8 text (counts code points; box drawing is one column each).
std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool is_local_root(const span_data& s) { return !s.parent_span_id.is_valid() || s.parent_is_remote; }

void write_tree(std::ostream& out, std::span<const span_data> spans, const console_options& options,
                bool complete);

}  // namespace

console_exporter::console_exporter(std::ostream& out, console_options options)
    : out_(out), options_(options) {}

export_result console_exporter::export_spans(std::span<const span_data> spans) {
  std::lock_guard lock(mu_);
  for (const auto& s : spans) {
    auto& bucket = pending_[s.trace_id];
    bucket.push_back(s);
    ++pending_count_;
    if (is_local_root(s)) {
      pending_count_ -= bucket.size();
      write_tree(out_, bucket, options_, true);
      pending_.erase(s.trace_id);
    }
  }
  if (pending_count_ > options_.max_buffered_spans) flush_all();
  out_.flush();
  return out_ ? export_result::success : export_result::failure;
}

bool console_exporter::force_flush(std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  flush_all();
  out_.flush();
  return static_cast<bool>(out_);
}

bool console_exporter::shutdown(std::chrono::milliseconds timeout) { return force_flush(timeout); }

void console_exporter::flush_all() {
  for (auto& [id, spans] : pending_) write_tree(out_, spans, options_, false);
  pending_.clear();
  pending_count_ = 0;
}

void print_trace(std::ostream& out, std::span<const span_data> spans, const console_options& options) {
  write_tree(out, spans, options, true);
}

namespace {

// One line of the tree: the indented label, its span, and the indentation of the
// lines under it (attributes, events).
struct row {
  std::string label;
  const span_data* span;
  std::string indent;
};

using children_map = std::unordered_map<std::uint64_t, std::vector<const span_data*>>;

// The rows in tree order. Iterative (a trace may be thousands of levels deep); past
// max_depth levels the indentation stops growing and the row says how deep it is.
std::vector<row> layout(const std::vector<const span_data*>& roots, const children_map& children,
                        const console_options& options, std::size_t text_columns) {
  std::vector<row> rows;
  struct pending {
    const span_data* span;
    std::string prefix;
    std::size_t depth;
    bool last;
  };
  std::vector<pending> todo;
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) todo.push_back({*it, std::string(), 0, true});
  while (!todo.empty()) {
    pending p = std::move(todo.back());
    todo.pop_back();
    const span_data* s = p.span;
    const bool top = p.depth == 0;
    const bool indent = p.depth <= options.max_depth;
    std::string label = top ? std::string() : p.prefix + (indent ? (p.last ? "└─ " : "├─ ") : "");
    if (!indent) label += "[depth " + std::to_string(p.depth) + "] ";
    detail::append_printable(label, s->name, text_columns);
    label += " [" + std::string(to_string(s->type)) + "]";
    std::string child_prefix = top || !indent ? p.prefix : p.prefix + (p.last ? "   " : "│  ");
    rows.push_back({std::move(label), s, child_prefix});
    const auto it = children.find(s->span_id.value());
    if (it == children.end()) continue;
    for (std::size_t i = it->second.size(); i-- > 0;) {
      todo.push_back({it->second[i], child_prefix, p.depth + 1, i + 1 == it->second.size()});
    }
  }
  return rows;
}

// The bar of a span's time within the trace's window, `width` cells wide.
void write_bar(std::ostream& out, const span_data& s, std::chrono::nanoseconds window_start, double window,
               std::size_t width) {
  const auto from = static_cast<std::size_t>(static_cast<double>((s.start_time - window_start).count()) /
                                             window * static_cast<double>(width));
  auto to = static_cast<std::size_t>(
      static_cast<double>((s.end_time - window_start).count()) / window * static_cast<double>(width) + 0.5);
  to = std::clamp<std::size_t>(to, std::min(from + 1, width), width);
  out << '|';
  for (std::size_t i = 0; i < width; ++i) out << (i >= from && i < to ? "█" : " ");
  out << '|';
}

// The lines under a row: its attributes (but error.message, already on the status
// line) and its events with their offsets.
void write_details(std::ostream& out, const row& r, std::size_t text_columns) {
  const span_data& s = *r.span;
  if (!s.attributes.empty()) {
    std::string line = r.indent + "    ";
    bool first_attr = true;
    for (const auto& a : s.attributes) {
      if (a.key == "error.message") continue;
      if (!first_attr) line += ' ';
      detail::append_printable(line, a.key, text_columns);
      line += '=';
      detail::append_printable(line, to_string(a.value), text_columns);
      first_attr = false;
    }
    out << line << '\n';
  }
  if (!s.events.empty()) {
    std::string line = r.indent + "    events:";
    for (const auto& e : s.events) {
      line += ' ';
      detail::append_printable(line, e.name, text_columns);
      line += " +" + format_duration(e.time - s.start_time);
    }
    out << line << '\n';
  }
}

void write_tree(std::ostream& out, std::span<const span_data> spans, const console_options& options,
                bool complete) {
  if (spans.empty()) return;
  children_map children;
  std::set<std::uint64_t> present;
  for (const auto& s : spans) present.insert(s.span_id.value());
  std::vector<const span_data*> roots;
  auto window_start = spans.front().start_time;
  auto window_end = spans.front().end_time;
  for (const auto& s : spans) {
    window_start = std::min(window_start, s.start_time);
    window_end = std::max(window_end, s.end_time);
    if (s.parent_span_id.is_valid() && present.count(s.parent_span_id.value()) != 0) {
      children[s.parent_span_id.value()].push_back(&s);
    } else {
      roots.push_back(&s);
    }
  }
  auto by_start = [](const span_data* a, const span_data* b) { return a->start_time < b->start_time; };
  std::sort(roots.begin(), roots.end(), by_start);
  for (auto& [id, list] : children) std::sort(list.begin(), list.end(), by_start);

  const auto& first = *roots.front();
  out << "trace " << first.trace_id.to_hex();
  if (first.resource) out << "  service=" << detail::printable(first.resource->service_name, 120);
  out << "  spans=" << spans.size() << "  duration=" << format_duration(window_end - window_start);
  if (!complete) out << "  (incomplete: root not ended yet or late spans)";
  out << '\n';

  // Rows first, so that the bars line up in one column.
  const std::size_t text_columns = std::max<std::size_t>(options.max_text_columns, 8);
  const std::vector<row> rows = layout(roots, children, options, text_columns);
  std::size_t label_width = 0;
  for (const auto& r : rows) label_width = std::max(label_width, columns(r.label));
  const double window = std::max<double>(1.0, static_cast<double>((window_end - window_start).count()));
  const std::size_t width = std::max<std::size_t>(options.bar_width, 4);
  for (const auto& r : rows) {
    const span_data& s = *r.span;
    out << r.label << std::string(label_width - columns(r.label) + 2, ' ');
    const std::string d = format_duration(s.duration());
    out << std::string(d.size() < 10 ? 10 - d.size() : 0, ' ') << d << "  ";
    write_bar(out, s, window_start, window, width);
    if (s.status == span_status::error) {
      out << "  ERROR";
      if (!s.status_message.empty()) out << ": " << detail::printable(s.status_message, text_columns);
    } else if (s.status == span_status::ok) {
      out << "  ok";
    }
    if (!complete && s.parent_span_id.is_valid() && !is_local_root(s) &&
        present.count(s.parent_span_id.value()) == 0) {
      out << "  (late: parent " << s.parent_span_id.to_hex() << ")";
    }
    out << '\n';
    if (options.show_attributes) write_details(out, r, text_columns);
  }
  out << '\n';
}

}  // namespace

}  // namespace prela
