// IngestService.ReadCaseHead: what a partner needs to continue after an
// ABORTED append (the case's version, its last event, whether it is closed),
// for the cases it may append to. See ingest_service.h.
#include "common/errors.h"
#include "common/status.h"
#include "eventstore/case_rules.h"
#include "eventstore/validation.h"
#include "services/access_record.h"
#include "services/grpc_status.h"
#include "services/ingest_service.h"

namespace kring::services {
namespace {

constexpr char kRpc[] = "IngestService.ReadCaseHead";

// The head of the case for `caller`, once the read is recorded: steps 1-5.
absl::Status ReadHead(const eventstore::EventStore& store, const security::Authenticator& auth,
                      security::AccessLog& access_log, const grpc::ServerContextBase& context,
                      const v1::ReadCaseHeadRequest& request, v1::CaseHead* response) {
  // 1. Who calls, and why (as for every case-level read).
  ASSIGN_OR_RETURN(security::Identity caller, auth.Authorize(context, security::Role::kPartner));
  ASSIGN_OR_RETURN(std::string purpose, security::StatedPurpose(context));
  // 2. A well-formed case id, the rule an append checks.
  if (!eventstore::IsValidId(request.case_id())) return BadRequestError("case_id", eventstore::kIdRule);
  // 3. The case as recorded, and its rule state.
  ASSIGN_OR_RETURN(eventstore::RecordedCaseHead head, store.ReadCaseHead(CaseId(request.case_id())));
  // 4. Exactly the check an append by this partner would meet first: a case
  // it may not append to is refused with the same status, which says
  // nothing about the case.
  if (!caller.every_role) RETURN_IF_ERROR(eventstore::CheckPartnerMayAppend(head.state, caller.name));
  // 5. Recorded before it is answered.
  RETURN_IF_ERROR(RecordRead(access_log, caller, kRpc, request.case_id(), "head", std::move(purpose), "ingest"));
  response->set_case_id(request.case_id());
  response->set_exists(head.version.value() > 0);
  response->set_version(head.version.value());
  response->set_last_event_id(head.last_event_id);
  response->set_last_global_position(head.last_position.value());
  response->set_closed(head.state.closures > 0);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* IngestService::ReadCaseHead(grpc::CallbackServerContext* context,
                                                      const v1::ReadCaseHeadRequest* request, v1::CaseHead* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status s = ReadHead(*store_, *auth_, *access_log_, *context, *request, response);
  if (!s.ok()) response->Clear();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

}  // namespace kring::services
