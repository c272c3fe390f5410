// The request headers the propagation benchmarks and instruction_probe read: W3C
// traceparent + tracestate (2 members) + a 5-entry baggage among ordinary headers, as a
// server sees them.
#pragma once

#include <map>
#include <string>

namespace prela::bench {

using header_map = std::map<std::string, std::string>;

inline header_map incoming_request() {
  return {{"Host", "api.example.com"},
          {"User-Agent", "client/1.0"},
          {"Accept", "application/json"},
          {"Content-Type", "application/json"},
          {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"},
          {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
          {"baggage", "userId=alice,tenant=acme,region=eu-west-1,plan=pro,session=8f2c1a"}};
}

}  // namespace prela::bench
