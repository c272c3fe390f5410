#include "prela/log.hpp"

#include "prela/context.hpp"
#include "prela/span.hpp"

namespace prela {

log_fields current_log_fields() noexcept {
  log_fields f;
  const span* s = current_span();
  if (s == nullptr) return f;
  f.trace_id.assign(s->trace_id());  // in place: no temporary to copy
  f.span_id.assign(s->span_id());
  f.sampled = s->is_sampled();
  return f;
}

}  // namespace prela
