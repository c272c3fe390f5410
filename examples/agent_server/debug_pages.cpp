#include "debug_pages.hpp"

#include <cstdio>
#include <sstream>

namespace demo {
namespace {

// JSON string contents: quotes, backslashes and control characters escaped; other bytes
// as they are (span names are UTF-8; prela cut long ones at a code point).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_html_escaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
}

// Renders the JSON snapshot the way prela::write_inflight does: one tree per trace,
// indented, with ages and flows. Text goes in through textContent only.
constexpr const char* page_script = R"js(
const tree = document.getElementById('tree');
const status = document.getElementById('status');
function age(ms) {
  if (ms < 1) return Math.round(ms * 1000) + ' us';
  if (ms < 1000) return ms.toFixed(1) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(2) + ' s';
  const s = Math.floor(ms / 1000);
  return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
}
function render(snapshot) {
  const byId = new Map(snapshot.spans.map(s => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of snapshot.spans) {
    const p = byId.get(s.parent_span_id);
    if (p && p !== s && p.trace_id === s.trace_id) {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    } else {
      roots.push(s);
    }
  }
  const lines = [];
  const traces = new Map();
  for (const r of roots) {
    if (!traces.has(r.trace_id)) traces.set(r.trace_id, []);
    traces.get(r.trace_id).push(r);
  }
  const shown = new Set();
  for (const [trace, rs] of traces) {
    lines.push({text: 'trace ' + trace, cls: 'trace'});
    const todo = rs.slice().reverse().map(s => [s, 1]);
    while (todo.length) {
      const [s, depth] = todo.pop();
      if (shown.has(s)) continue;
      shown.add(s);
      const flow = s.running ? 'flow ' + s.flow + ' running on thread ' + s.thread : 'flow ' + s.flow + ' suspended';
      lines.push({text: '  '.repeat(Math.min(depth, 32)) + s.name + ' (' + s.type + ') ' + age(s.age_ms) + '  ' + flow,
                  cls: s.running ? 'running' : 'suspended'});
      for (const c of (children.get(s.span_id) || []).slice().reverse()) todo.push([c, depth + 1]);
    }
  }
  tree.replaceChildren(...lines.map(l => {
    const div = document.createElement('div');
    div.className = l.cls;
    div.textContent = l.text;
    return div;
  }));
  status.textContent = snapshot.spans.length + ' open spans at ' + new Date().toLocaleTimeString() +
                       ', refreshed every 2 s';
}
async function refresh() {
  try {
    const r = await fetch('/debug/prela/inflight', {cache: 'no-store'});
    render(await r.json());
  } catch (e) {
    status.textContent = 'could not refresh: ' + e;
  }
}
setInterval(refresh, 2000);
)js";

}  // namespace

std::string inflight_json(const std::vector<prela::inflight_span>& spans) {
  std::string out = "{\"open_spans\":" + std::to_string(spans.size()) + ",\"spans\":[";
  bool first = true;
  for (const auto& s : spans) {
    if (!first) out += ',';
    first = false;
    char flow[24];
    std::snprintf(flow, sizeof flow, "%llx", static_cast<unsigned long long>(s.flow));
    out += "{\"trace_id\":\"" + s.trace_id.to_hex() + "\",\"span_id\":\"" + s.span_id.to_hex() +
           "\",\"parent_span_id\":\"" + (s.parent_span_id.is_valid() ? s.parent_span_id.to_hex() : "") +
           "\",\"name\":";
    append_json_string(out, s.name);
    out += ",\"type\":\"" + std::string(prela::to_string(s.type)) +
           "\",\"sampled\":" + (s.sampled ? "true" : "false") + ",\"start_time_unix_nano\":\"" +
           std::to_string(s.start_time.count()) + "\",\"age_ms\":";
    char age[32];
    std::snprintf(age, sizeof age, "%.3f", static_cast<double>(s.age.count()) / 1e6);
    out += age;
    out += ",\"flow\":\"" + std::string(flow) + "\",\"running\":" + (s.running ? "true" : "false") +
           ",\"thread\":" + std::to_string(s.thread) + "}";
  }
  out += "]}\n";
  return out;
}

std::string inflight_page(const std::vector<prela::inflight_span>& spans) {
  std::ostringstream text;
  prela::write_inflight(text, spans);
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>prela: open spans</title><style>"
      "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
      "#tree{font:13px ui-monospace,monospace;white-space:pre}"
      ".trace{font-weight:bold;margin-top:.6em}.suspended{color:#a55a00}.running{color:#06743a}"
      "</style></head><body><h1>Open spans</h1><p id=\"status\">" +
      std::to_string(spans.size()) + " open spans, refreshed every 2 s</p><div id=\"tree\">";
  append_html_escaped(out, text.str());
  out += "</div><script>";
  out += page_script;
  out += "</script></body></html>\n";
  return out;
}

}  // namespace demo
