#include "services/remote_event_source.h"

#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace kring::services {
namespace {

constexpr uint32_t kMaxEventsPerCall = 10000;  // ReplicationService::kMaxEvents

absl::Status FromGrpc(const grpc::Status& s, const char* rpc) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("--ingest-node: ReplicationService.", rpc, ": ", s.error_message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RemoteEventSource>> RemoteEventSource::Create(RemoteEventSourceOptions options) {
  if (options.connect.server.empty()) {
    return absl::InvalidArgumentError("--ingest-node: required (host:port of the ingest node's gRPC listener)");
  }
  std::unique_ptr<RemoteEventSource> source(new RemoteEventSource(std::move(options)));
  ASSIGN_OR_RETURN(source->channel_, client::Connect(source->options_.connect));
  source->stub_ = v1::ReplicationService::NewStub(source->channel_);
  return source;
}

void RemoteEventSource::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
}

GlobalPosition RemoteEventSource::Head() const {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t asked = head_asked_at_.load();
  if ((asked != 0 && now - asked < std::chrono::nanoseconds(options_.head_refresh).count()) ||
      !head_asked_at_.compare_exchange_strong(asked, now)) {
    return GlobalPosition(head_.load());  // asked recently, or another thread asks now
  }
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetHeadRequest request;
  v1::GetHeadResponse response;
  const grpc::Status s = stub_->GetHead(&context, request, &response);
  if (s.ok()) {
    uint64_t known = head_.load();
    while (response.head_position() > known && !head_.compare_exchange_weak(known, response.head_position())) {
    }
  }
  // An ingest node that cannot be reached or refuses this replica's token
  // must show: the replica would otherwise lag without a word.
  if (head_ok_.exchange(s.ok()) != s.ok()) {
    if (s.ok()) {
      Logger("replica")->info("msg=ingest_node_reachable ingest_node={}", options_.connect.server);
    } else {
      Logger("replica")->warn("msg=ingest_node_unreachable ingest_node={} status=\"{}\"", options_.connect.server,
                              FromGrpc(s, "GetHead").ToString());
    }
  }
  return GlobalPosition(head_.load());
}

absl::StatusOr<v1::ReadLogResponse> RemoteEventSource::ReadLog(uint64_t from, uint64_t to, uint32_t max_events) const {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ReadLogRequest request;
  request.set_from_position(from);
  request.set_to_position(to);
  request.set_max_events(std::min(max_events, kMaxEventsPerCall));
  v1::ReadLogResponse response;
  if (grpc::Status s = stub_->ReadLog(&context, request, &response); !s.ok()) return FromGrpc(s, "ReadLog");
  uint64_t known = head_.load();
  while (response.head_position() > known && !head_.compare_exchange_weak(known, response.head_position())) {
  }
  events_received_ += response.events_size();
  return response;
}

absl::StatusOr<std::vector<v1::RecordedEvent>> RemoteEventSource::ReadCase(const CaseId& case_id, StreamVersion from,
                                                                           size_t max_count) const {
  std::vector<v1::RecordedEvent> out;
  uint64_t version = std::max<uint64_t>(from.value(), 1);
  while (out.size() < max_count) {
    const uint32_t want = static_cast<uint32_t>(std::min<size_t>(max_count - out.size(), kMaxEventsPerCall));
    grpc::ClientContext context;
    SetDeadline(context);
    v1::ReadCaseEventsRequest request;
    request.set_case_id(case_id.value());
    request.set_from_version(version);
    request.set_max_events(want);
    v1::ReadCaseEventsResponse response;
    if (grpc::Status s = stub_->ReadCaseEvents(&context, request, &response); !s.ok()) {
      return FromGrpc(s, "ReadCaseEvents");
    }
    events_received_ += response.events_size();
    for (auto& e : *response.mutable_events()) {
      version = e.stream_version() + 1;
      out.push_back(std::move(e));
    }
    if (static_cast<uint32_t>(response.events_size()) < want) break;
  }
  return out;
}

absl::StatusOr<std::vector<v1::RecordedEvent>> RemoteEventSource::ReadAll(GlobalPosition from, size_t max_count) const {
  std::vector<v1::RecordedEvent> out;
  if (max_count == 0) return out;
  ASSIGN_OR_RETURN(v1::ReadLogResponse response,
                   ReadLog(from.value(), 0, static_cast<uint32_t>(std::min<size_t>(max_count, kMaxEventsPerCall))));
  for (auto& e : *response.mutable_events()) out.push_back(std::move(e));
  return out;
}

absl::Status RemoteEventSource::ScanChunks(GlobalPosition from, GlobalPosition to, size_t max_events,
                                           const ChunkFn& fn) const {
  if (max_events == 0) return absl::InvalidArgumentError("max_events: at least 1");
  uint64_t next = std::max<uint64_t>(from.value(), 1);
  const uint64_t start = next;
  while (next <= to.value()) {
    ASSIGN_OR_RETURN(v1::ReadLogResponse response,
                     ReadLog(next, to.value(), static_cast<uint32_t>(std::min<size_t>(max_events, kMaxEventsPerCall))));
    if (response.events_size() == 0) break;  // past the ingest node's head
    std::vector<const v1::RecordedEvent*> chunk;
    chunk.reserve(response.events_size());
    for (const auto& e : response.events()) chunk.push_back(&e);
    next = response.events(response.events_size() - 1).global_position() + 1;
    for (size_t i = 0; i < chunk.size(); i += max_events) {
      const size_t n = std::min(max_events, chunk.size() - i);
      if (!fn(absl::MakeConstSpan(chunk.data() + i, n))) return absl::OkStatus();
    }
  }
  Logger("replica")->info("msg=remote_scan from={} to={} events={}", start, next - 1, next - start);
  return absl::OkStatus();
}

}  // namespace kring::services
