// Where projections read events besides Kafka: gap fills, the start-up fill,
// rebuilds and replays "as of" (projections/engine.h). The local EventStore
// is one; a read replica without a store reads the ingest node's log over
// gRPC (services/remote_event_source.h, docs/architecture.md "Roles and read
// replicas").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/types.h"
#include "kring/v1/events.pb.h"

namespace kring::eventstore {

class EventSource {
 public:
  virtual ~EventSource() = default;
  // The last position of the log (0: empty), as this source last knows it.
  virtual GlobalPosition Head() const = 0;
  // Events of one case with version >= from, at most max_count, in order.
  virtual absl::StatusOr<std::vector<v1::RecordedEvent>> ReadCase(const CaseId& case_id, StreamVersion from,
                                                                  size_t max_count = SIZE_MAX) const = 0;
  // Events with global position >= from, at most max_count, in order.
  virtual absl::StatusOr<std::vector<v1::RecordedEvent>> ReadAll(GlobalPosition from, size_t max_count) const = 0;
  // Calls fn with the events of positions [from, to] in chunks of up to
  // max_events (at least 1), in order, until fn returns false. The events
  // live until fn returns. INVALID_ARGUMENT when max_events is 0.
  using ChunkFn = std::function<bool(absl::Span<const v1::RecordedEvent* const> events)>;
  virtual absl::Status ScanChunks(GlobalPosition from, GlobalPosition to, size_t max_events,
                                  const ChunkFn& fn) const = 0;
};

}  // namespace kring::eventstore
