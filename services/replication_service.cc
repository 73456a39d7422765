#include "services/replication_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "eventstore/validation.h"
#include "services/grpc_status.h"

namespace kring::services {
namespace {

absl::StatusOr<uint32_t> MaxEvents(uint32_t requested) {
  if (requested == 0) return ReplicationService::kDefaultMaxEvents;
  if (requested > ReplicationService::kMaxEvents) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_events: at most ", ReplicationService::kMaxEvents, " (0 means the default)"));
  }
  return requested;
}

absl::Status ReadLogFrom(const eventstore::EventStore& store, const v1::ReadLogRequest& request,
                         v1::ReadLogResponse* response) {
  ASSIGN_OR_RETURN(const uint32_t max_events, MaxEvents(request.max_events()));
  const uint64_t head = store.Head().value();
  const uint64_t from = std::max<uint64_t>(request.from_position(), 1);
  const uint64_t to = request.to_position() == 0 ? head : std::min(request.to_position(), head);
  response->set_head_position(head);
  if (from > to) return absl::OkStatus();
  const uint64_t last = std::min(to, from + max_events - 1);
  size_t bytes = 0;
  return store.ScanChunks(GlobalPosition(from), GlobalPosition(last), 256,
                          [&](absl::Span<const v1::RecordedEvent* const> events) {
                            for (const v1::RecordedEvent* e : events) {
                              if (response->events_size() > 0 && bytes >= ReplicationService::kMaxResponseBytes) {
                                return false;
                              }
                              bytes += e->ByteSizeLong();
                              *response->add_events() = *e;
                            }
                            return true;
                          });
}

absl::Status ReadCaseFrom(const eventstore::EventStore& store, const v1::ReadCaseEventsRequest& request,
                          v1::ReadCaseEventsResponse* response) {
  if (!eventstore::IsValidId(request.case_id())) {
    return absl::InvalidArgumentError("case_id: not a valid id (1-64 characters of A-Z a-z 0-9 . _ -)");
  }
  ASSIGN_OR_RETURN(const uint32_t max_events, MaxEvents(request.max_events()));
  ASSIGN_OR_RETURN(std::vector<v1::RecordedEvent> events,
                   store.ReadCase(CaseId(request.case_id()),
                                  StreamVersion(std::max<uint64_t>(request.from_version(), 1)), max_events));
  for (auto& e : events) *response->add_events() = std::move(e);
  return absl::OkStatus();
}

}  // namespace

ReplicationService::ReplicationService(const eventstore::EventStore* store, const security::Authenticator* auth)
    : store_(store), auth_(auth) {}

grpc::ServerUnaryReactor* ReplicationService::GetHead(grpc::CallbackServerContext* context, const v1::GetHeadRequest*,
                                                      v1::GetHeadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status s = auth_->Authorize(*context, security::Role::kReplica).status();
  if (s.ok()) response->set_head_position(store_->Head().value());
  reactor->Finish(ToGrpc(s));
  return reactor;
}

grpc::ServerUnaryReactor* ReplicationService::ReadLog(grpc::CallbackServerContext* context,
                                                      const v1::ReadLogRequest* request,
                                                      v1::ReadLogResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status s = auth_->Authorize(*context, security::Role::kReplica).status();
  if (s.ok()) s = ReadLogFrom(*store_, *request, response);
  reactor->Finish(ToGrpc(s));
  return reactor;
}

grpc::ServerUnaryReactor* ReplicationService::ReadCaseEvents(grpc::CallbackServerContext* context,
                                                             const v1::ReadCaseEventsRequest* request,
                                                             v1::ReadCaseEventsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status s = auth_->Authorize(*context, security::Role::kReplica).status();
  if (s.ok()) s = ReadCaseFrom(*store_, *request, response);
  reactor->Finish(ToGrpc(s));
  return reactor;
}

}  // namespace kring::services
