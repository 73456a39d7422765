// The ingest node's log read over gRPC (ReplicationService), for a kringd
// without the ingest role: its read models fill from it what Kafka did not
// bring (the start-up fill, gaps, rebuilds, replays "as of"), as an
// all-roles kringd fills from its own store (eventstore/event_source.h).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "cli/console.h"
#include "eventstore/event_source.h"
#include "kring/v1/replication.grpc.pb.h"

namespace kring::services {

struct RemoteEventSourceOptions {
  // The ingest node (--ingest-node host:port), its TLS CA and name, and the
  // bearer token of an identity with the replica role
  // (--ingest-node-token-file). Required: connect.server.
  client::ConnectOptions connect;
  // Deadline of each call. Default: 30 s.
  std::chrono::milliseconds call_timeout{30000};
  // Head() asks the ingest node at most once per this interval and answers
  // the head it last learned in between (every read model's consumer asks
  // for the head after each idle poll). Default: 500 ms.
  std::chrono::milliseconds head_refresh{500};
};

class RemoteEventSource final : public eventstore::EventSource {
 public:
  // Checks the options and builds the channel; does not wait for the ingest
  // node (it may start later). INVALID_ARGUMENT names the flag.
  static absl::StatusOr<std::unique_ptr<RemoteEventSource>> Create(RemoteEventSourceOptions options);

  // The ingest node's head, asked at most once per head_refresh; when it
  // cannot be reached, the head it last reported (0 before it answered once).
  GlobalPosition Head() const override;
  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadCase(const CaseId& case_id, StreamVersion from,
                                                          size_t max_count = SIZE_MAX) const override;
  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadAll(GlobalPosition from, size_t max_count) const override;
  absl::Status ScanChunks(GlobalPosition from, GlobalPosition to, size_t max_events, const ChunkFn& fn) const override;

  // Events received from the ingest node since start (for logs and tests).
  uint64_t events_received() const { return events_received_.load(); }

 private:
  explicit RemoteEventSource(RemoteEventSourceOptions options) : options_(std::move(options)) {}
  absl::StatusOr<v1::ReadLogResponse> ReadLog(uint64_t from, uint64_t to, uint32_t max_events) const;
  void SetDeadline(grpc::ClientContext& context) const;

  const RemoteEventSourceOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReplicationService::Stub> stub_;
  mutable std::atomic<uint64_t> head_{0};
  // steady_clock nanoseconds of the last GetHead call (0: never).
  mutable std::atomic<int64_t> head_asked_at_{0};
  // Whether the last GetHead answered: a change is logged once.
  mutable std::atomic<bool> head_ok_{true};
  mutable std::atomic<uint64_t> events_received_{0};
};

}  // namespace kring::services
