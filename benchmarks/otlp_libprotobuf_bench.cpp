// The same spans as exporters_bench's otlp_protobuf_encode, encoded with libprotobuf
// from code protoc generates for tests/otlp/otlp_trace.proto: what prela's hand-written
// encoder is measured against. Built only when libprotobuf-dev is installed.
//   libprotobuf_fill_and_serialize  span_data -> message (reused, Clear()ed) -> bytes:
//                                   what an exporter built on libprotobuf does per batch
//   libprotobuf_serialize_only      bytes from a message already filled: its floor
//   prela_encode_protobuf           prela's encoder, in this binary for a side-by-side run
// Before timing, each checks that libprotobuf's bytes equal prela's.
#include <benchmark/benchmark.h>

#include <string>

#include "otlp_trace.pb.h"
#include "prela/exporters/otlp_http.hpp"
#include "typical_spans.hpp"

namespace {

namespace otlp_pb = prela::test::otlp;

std::string big_endian(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return out;
}

void set_value(otlp_pb::AnyValue& out, const prela::attribute_value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          out.set_bool_value(x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out.set_int_value(x);
        } else if constexpr (std::is_same_v<T, double>) {
          out.set_double_value(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out.set_string_value(x);
        } else {
          auto* array = out.mutable_array_value();
          for (const auto& e : x) set_value(*array->add_values(), static_cast<typename T::value_type>(e));
        }
      },
      v.variant());
}

void add_attribute(google::protobuf::RepeatedPtrField<otlp_pb::KeyValue>& list, std::string_view key,
                   const prela::attribute_value& value) {
  auto* kv = list.Add();
  kv->set_key(std::string(key));
  set_value(*kv->mutable_value(), value);
}

// The mapping of prela's encoders (otlp_json.cpp, otlp_protobuf.cpp), for one resource.
void fill(otlp_pb::ExportTraceServiceRequest& request, const std::vector<prela::span_data>& spans) {
  auto* rs = request.add_resource_spans();
  for (const auto& a : spans.front().resource->attributes) {
    add_attribute(*rs->mutable_resource()->mutable_attributes(), a.key, a.value);
  }
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("prela");
  ss->mutable_scope()->set_version(std::string(prela::version));
  for (const auto& s : spans) {
    auto* span = ss->add_spans();
    span->set_trace_id(big_endian(s.trace_id.high()) + big_endian(s.trace_id.low()));
    span->set_span_id(big_endian(s.span_id.value()));
    if (s.parent_span_id.is_valid()) span->set_parent_span_id(big_endian(s.parent_span_id.value()));
    span->set_name(s.name);
    span->set_kind(static_cast<otlp_pb::Span::SpanKind>(prela::otlp::kind_of(s)));
    span->set_start_time_unix_nano(static_cast<std::uint64_t>(s.start_time.count()));
    span->set_end_time_unix_nano(static_cast<std::uint64_t>(s.end_time.count()));
    add_attribute(*span->mutable_attributes(), "prela.span_type", std::string(prela::to_string(s.type)));
    if (const auto op = prela::otlp::gen_ai_operation(s.type); !op.empty()) {
      add_attribute(*span->mutable_attributes(), "gen_ai.operation.name", std::string(op));
    }
    for (const auto& a : s.attributes) add_attribute(*span->mutable_attributes(), a.key, a.value);
    for (const auto& e : s.events) {
      auto* event = span->add_events();
      event->set_time_unix_nano(static_cast<std::uint64_t>(e.time.count()));
      event->set_name(e.name);
      for (const auto& a : e.attributes) add_attribute(*event->mutable_attributes(), a.key, a.value);
    }
    auto* status = span->mutable_status();
    if (s.status != prela::span_status::unset) {
      status->set_message(s.status_message);
      status->set_code(s.status == prela::span_status::ok ? otlp_pb::Status::STATUS_CODE_OK
                                                          : otlp_pb::Status::STATUS_CODE_ERROR);
    }
    span->set_flags(static_cast<std::uint32_t>(s.trace_flags) | 0x100U | (s.parent_is_remote ? 0x200U : 0U));
  }
}

bool same_bytes_as_prela(benchmark::State& state, const std::vector<prela::span_data>& spans) {
  otlp_pb::ExportTraceServiceRequest request;
  fill(request, spans);
  std::string theirs;
  request.SerializeToString(&theirs);
  std::string ours;
  prela::otlp::encode_protobuf(spans, ours);
  if (theirs != ours) {
    state.SkipWithError("libprotobuf and prela encode these spans differently");
    return false;
  }
  return true;
}

constexpr std::size_t batch = 512;

void libprotobuf_fill_and_serialize(benchmark::State& state) {
  const auto spans = prela::bench::typical_spans(batch);
  if (!same_bytes_as_prela(state, spans)) return;
  otlp_pb::ExportTraceServiceRequest request;
  std::string out;
  for (auto _ : state) {
    request.Clear();
    fill(request, spans);
    out.clear();
    request.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["bytes/span"] = static_cast<double>(out.size()) / batch;
}
BENCHMARK(libprotobuf_fill_and_serialize);

void libprotobuf_serialize_only(benchmark::State& state) {
  const auto spans = prela::bench::typical_spans(batch);
  if (!same_bytes_as_prela(state, spans)) return;
  otlp_pb::ExportTraceServiceRequest request;
  fill(request, spans);
  std::string out;
  for (auto _ : state) {
    out.clear();
    request.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["bytes/span"] = static_cast<double>(out.size()) / batch;
}
BENCHMARK(libprotobuf_serialize_only);

void prela_encode_protobuf(benchmark::State& state) {
  const auto spans = prela::bench::typical_spans(batch);
  std::string out;
  for (auto _ : state) {
    out.clear();
    prela::otlp::encode_protobuf(spans, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["bytes/span"] = static_cast<double>(out.size()) / batch;
}
BENCHMARK(prela_encode_protobuf);

}  // namespace

BENCHMARK_MAIN();
