#include "services/audit_service.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status.h"
#include "common/time.h"
#include "services/access_record.h"
#include "services/grpc_status.h"

namespace kring::services {
namespace {

constexpr char kIdRule[] = "must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit";
// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

bool NotAfter(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() <= b.nanos());
}

absl::Status CaseNotFound() {
  return BadRequestError("case_id", "no events recorded for this case", absl::StatusCode::kNotFound);
}

absl::Status CheckReadCase(const v1::ReadCaseRequest& request) {
  std::vector<FieldViolation> violations;
  if (!eventstore::IsValidId(request.case_id())) violations.push_back({"case_id", kIdRule});
  if (request.has_as_known_at()) {
    const auto& t = request.as_known_at();
    if (t.nanos() < 0 || t.nanos() > 999999999) {
      violations.push_back({"as_known_at.nanos", "must lie in 0..999999999"});
    }
    if (t.seconds() < kMinTimestampSeconds || t.seconds() > kMaxTimestampSeconds) {
      violations.push_back({"as_known_at.seconds", "must lie between 0001-01-01 and 9999-12-31"});
    }
  }
  return violations.empty() ? absl::OkStatus() : BadRequestError(violations);
}

// Opens each sealed personal part with the case's data key, or marks it
// erased.
absl::Status OpenPersonalParts(const security::KeyStore* keys, v1::ReadCaseResponse* response) {
  for (v1::AuditEvent& a : *response->mutable_events()) {
    if (!a.event().has_sealed_personal()) continue;
    if (keys == nullptr) {
      return absl::FailedPreconditionError(
          "--master-key-file: this case has sealed personal data, and this server runs without the master key");
    }
    ASSIGN_OR_RETURN(std::optional<v1::PersonalData> opened,
                     keys->OpenSealed(response->case_id(), a.event().event().event_id(), a.event().sealed_personal()));
    if (opened) {
      a.set_personal_state(v1::PERSONAL_DATA_STATE_OPENED);
      *a.mutable_personal() = *std::move(opened);
    } else {
      a.set_personal_state(v1::PERSONAL_DATA_STATE_ERASED);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadCaseFromStore(const eventstore::EventStore& store, const v1::ReadCaseRequest& request,
                               v1::ReadCaseResponse* response) {
  ASSIGN_OR_RETURN(std::vector<v1::RecordedEvent> events, store.ReadCase(CaseId(request.case_id()), StreamVersion(1)));
  if (events.empty()) return CaseNotFound();
  // As known at: the events recorded by then. The writer stamps recorded_at
  // in version order, so they are a prefix of the case; should the clock ever
  // step back, the prefix ends at the first event stamped later, so the
  // versions shown are always 1..version without a gap.
  if (request.has_as_known_at()) {
    size_t known = 0;
    while (known < events.size() && NotAfter(events[known].recorded_at(), request.as_known_at())) ++known;
    events.resize(known);
  }
  std::unordered_map<std::string, size_t> index;  // event id -> index in events
  for (size_t i = 0; i < events.size(); ++i) index.emplace(events[i].event().event_id(), i);

  response->set_case_id(request.case_id());
  response->set_version(events.empty() ? 0 : events.back().stream_version());
  response->mutable_events()->Reserve(static_cast<int>(events.size()));
  for (auto& e : events) *response->add_events()->mutable_event() = std::move(e);
  for (const auto& a : response->events()) {
    if (!a.event().event().has_event_retracted()) continue;
    auto it = index.find(a.event().event().event_retracted().retracted_event_id());
    if (it == index.end()) continue;  // the case rules make this impossible
    v1::AuditEvent* target = response->mutable_events(static_cast<int>(it->second));
    target->set_retracted(true);
    target->set_retracted_by_event_id(a.event().event().event_id());
  }
  return absl::OkStatus();
}

void ToResponse(const eventstore::ChainVerification& v, v1::VerifyChainResponse* response) {
  response->set_ok(v.ok);
  response->set_events_verified(v.events_verified);
  response->set_last_position(v.last_position.value());
  response->set_head_hash(v.head_hash);
  response->set_first_bad_position(v.first_bad_position.value());
  response->set_reason(v.reason);
}

absl::Status CheckVerify(const v1::VerifyChainRequest& request) {
  if (request.scope_case() == v1::VerifyChainRequest::kCaseId && !eventstore::IsValidId(request.case_id())) {
    return BadRequestError("case_id", kIdRule);
  }
  if (request.scope_case() == v1::VerifyChainRequest::kRange && request.range().to() != 0 &&
      request.range().to() < std::max<uint64_t>(1, request.range().from())) {
    return BadRequestError("range.to", "must be 0 (the head) or at least range.from");
  }
  return absl::OkStatus();
}

absl::Status VerifyFromStore(const eventstore::EventStore& store, const v1::VerifyChainRequest& request,
                             v1::VerifyChainResponse* response) {
  if (request.scope_case() == v1::VerifyChainRequest::kCaseId) {
    const CaseId case_id(request.case_id());
    ASSIGN_OR_RETURN(StreamVersion version, store.CaseVersion(case_id));
    if (version.value() == 0) return CaseNotFound();
    ASSIGN_OR_RETURN(eventstore::ChainVerification v, store.VerifyCase(case_id));
    ToResponse(v, response);
    return absl::OkStatus();
  }
  const uint64_t head = store.Head().value();
  uint64_t from = 1, to = head;
  if (request.scope_case() == v1::VerifyChainRequest::kRange) {
    from = std::max<uint64_t>(1, request.range().from());
    if (request.range().to() != 0) to = std::min(head, request.range().to());
  }
  if (from > to) {  // nothing recorded in the range (yet): nothing to verify
    response->set_ok(true);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(eventstore::ChainVerification v, store.VerifyChain(GlobalPosition(from), GlobalPosition(to)));
  ToResponse(v, response);
  return absl::OkStatus();
}

absl::Status CheckReadAll(const v1::ReadAllRequest& request) {
  std::vector<FieldViolation> violations;
  if (request.batch_size() > AuditService::kMaxBatchSize) {
    violations.push_back({"batch_size", absl::StrCat("must be at most ", AuditService::kMaxBatchSize)});
  }
  if (request.to_position() != 0 && request.to_position() < request.from_position()) {
    violations.push_back({"to_position", "must be 0 (no end) or at least from_position"});
  }
  return violations.empty() ? absl::OkStatus() : BadRequestError(violations);
}

std::string Positions(uint64_t from, uint64_t to) {
  return absl::StrCat("positions ", std::max<uint64_t>(1, from), "-", to == 0 ? "head" : absl::StrCat(to));
}

}  // namespace

absl::StatusOr<security::Identity> AuditService::Admit(const grpc::ServerContextBase& context, const char* rpc,
                                                       const absl::Status& request_ok, const std::string& case_id,
                                                       const std::string& scope) {
  ASSIGN_OR_RETURN(security::Identity auditor, auth_->Authorize(context, security::Role::kAuditor));
  ASSIGN_OR_RETURN(std::string purpose, security::StatedPurpose(context));
  RETURN_IF_ERROR(request_ok);
  RETURN_IF_ERROR(RecordRead(*access_log_, auditor, rpc, case_id, scope, std::move(purpose), "audit"));
  return auditor;
}

// One ReadAll call. Whoever "holds" the stream moves it on, one at a time:
// the thread running the constructor, OnWriteDone (a write in flight), or the
// service's waiter (parked in AuditService::parked_). OnCancel and
// BeginShutdown end a parked stream by taking it out of parked_ under the
// service's lock; any other stream sees the flags at its next step.
class ReadAllReactor final : public grpc::ServerWriteReactor<v1::ReadAllResponse> {
 public:
  // `request` has passed CheckReadAll.
  ReadAllReactor(AuditService* service, const v1::ReadAllRequest& request)
      : service_(service), store_(service->store_) {
    const uint32_t batch = request.batch_size();
    batch_size_ = batch == 0 ? AuditService::kDefaultBatchSize : batch;
    follow_ = request.follow();
    next_ = std::max<uint64_t>(1, request.from_position());
    const uint64_t head = store_->Head().value();
    if (follow_) {
      end_ = request.to_position() == 0 ? UINT64_MAX : request.to_position();
    } else {
      end_ = request.to_position() == 0 ? head : std::min(head, request.to_position());
    }
    Continue();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client is gone or cancelled: nothing more can be sent
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
      return;
    }
    Continue();
  }

  void OnCancel() override {
    bool parked;
    {
      std::lock_guard<std::mutex> lock(service_->mu_);
      cancelled_ = true;
      parked = service_->parked_.erase(this) > 0;
    }
    if (parked) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

  // Sends the next batch, parks the stream (follow, caught up), or ends it.
  // Called by the stream's current holder only.
  void Continue() {
    if (next_ > end_) {
      Finish(grpc::Status::OK);
      return;
    }
    if (std::optional<grpc::Status> end = EndedByCancelOrShutdown(); end) {
      Finish(*end);
      return;
    }
    response_.Clear();
    size_t bytes = 0;
    const uint64_t last = end_ - next_ < batch_size_ ? end_ : next_ + batch_size_ - 1;
    absl::Status read =
        store_->ScanAll(GlobalPosition(next_), GlobalPosition(last), [&](const v1::RecordedEvent& e, std::string_view) {
          *response_.add_events() = e;
          bytes += e.ByteSizeLong();
          return bytes < AuditService::kMaxBatchBytes;
        });
    if (!read.ok()) {
      Logger("audit")->error("msg=read_all_failed position={} status=\"{}\"", next_, read.ToString());
      Finish(ToGrpc(read));
      return;
    }
    if (response_.events().empty()) {
      if (!follow_) {  // cannot happen: end_ was at most the head
        Finish(grpc::Status::OK);
        return;
      }
      Park();
      return;
    }
    const uint64_t last_read = response_.events().rbegin()->global_position();
    response_.set_head_position(std::max(last_read, store_->Head().value()));
    next_ = last_read + 1;
    StartWrite(&response_);
  }

 private:
  friend class AuditService;

  std::optional<grpc::Status> EndedByCancelOrShutdown() {
    std::lock_guard<std::mutex> lock(service_->mu_);
    if (cancelled_) return grpc::Status::CANCELLED;
    if (service_->shutting_down_) return ShutdownStatus();
    return std::nullopt;
  }

  // A follow stream ends cleanly (a tail has no end; the client knows the
  // last position it received). Any other stream did not reach its end.
  grpc::Status ShutdownStatus() const {
    if (follow_) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("server shutting down; read on from position ", next_));
  }

  void Park() {
    std::optional<grpc::Status> end;
    {
      std::lock_guard<std::mutex> lock(service_->mu_);
      if (cancelled_) {
        end = grpc::Status::CANCELLED;
      } else if (service_->shutting_down_) {
        end = ShutdownStatus();
      } else {
        after_ = next_ - 1;
        service_->parked_.insert(this);
        service_->parked_cv_.notify_one();
      }
    }
    if (end) Finish(*end);
  }

  AuditService* const service_;
  const eventstore::EventStore* const store_;
  uint32_t batch_size_ = AuditService::kDefaultBatchSize;
  bool follow_ = false;
  uint64_t next_ = 1;  // the next position to send
  uint64_t end_ = 0;   // the last position to send
  v1::ReadAllResponse response_;
  // Guarded by service_->mu_.
  bool cancelled_ = false;
  uint64_t after_ = 0;  // parked: waiting for the head to pass this
};

AuditService::AuditService(const eventstore::EventStore* store, const security::Authenticator* auth,
                           security::AccessLog* access_log, const security::KeyStore* keys)
    : store_(store), auth_(auth), access_log_(access_log), keys_(keys) {
  waiter_ = std::thread([this] { WaiterLoop(); });
}

AuditService::~AuditService() { BeginShutdown(); }

void AuditService::BeginShutdown() {
  std::vector<ReadAllReactor*> parked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    stop_waiter_ = true;
    parked.assign(parked_.begin(), parked_.end());
    parked_.clear();
  }
  parked_cv_.notify_all();
  if (!parked.empty()) Logger("audit")->info("msg=ending_follow_streams streams={}", parked.size());
  for (ReadAllReactor* r : parked) r->Finish(r->ShutdownStatus());
  if (waiter_.joinable()) waiter_.join();
}

void AuditService::WaiterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    parked_cv_.wait(lock, [this] { return stop_waiter_ || !parked_.empty(); });
    if (stop_waiter_) return;
    uint64_t after = UINT64_MAX;
    for (const ReadAllReactor* r : parked_) after = std::min(after, r->after_);
    lock.unlock();
    // Bounded, so that a stop is noticed within the timeout.
    const uint64_t head = store_->WaitForHead(GlobalPosition(after), std::chrono::milliseconds(100)).value();
    lock.lock();
    std::vector<ReadAllReactor*> ready;
    for (auto it = parked_.begin(); it != parked_.end();) {
      if ((*it)->after_ < head) {
        ready.push_back(*it);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
    if (ready.empty()) continue;
    lock.unlock();
    for (ReadAllReactor* r : ready) r->Continue();
    lock.lock();
  }
}

grpc::ServerUnaryReactor* AuditService::ReadCase(grpc::CallbackServerContext* context,
                                                 const v1::ReadCaseRequest* request, v1::ReadCaseResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string scope = request->has_as_known_at()
                                ? absl::StrCat("as known at ", absl::FormatTime(FromTimestamp(request->as_known_at())))
                                : "";
  absl::Status s =
      Admit(*context, "AuditService.ReadCase", CheckReadCase(*request), request->case_id(), scope).status();
  if (s.ok()) s = ReadCaseFromStore(*store_, *request, response);
  if (s.ok()) s = OpenPersonalParts(keys_, response);
  if (!s.ok()) response->Clear();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

grpc::ServerWriteReactor<v1::ReadAllResponse>* AuditService::ReadAll(grpc::CallbackServerContext* context,
                                                                     const v1::ReadAllRequest* request) {
  const std::string scope = absl::StrCat(Positions(request->from_position(), request->to_position()),
                                         request->follow() ? ", following" : "", ", personal parts sealed");
  absl::Status s = Admit(*context, "AuditService.ReadAll", CheckReadAll(*request), "", scope).status();
  if (!s.ok()) return new RefusedWriteReactor<v1::ReadAllResponse>(s);
  return new ReadAllReactor(this, *request);
}

grpc::ServerUnaryReactor* AuditService::VerifyChain(grpc::CallbackServerContext* context,
                                                    const v1::VerifyChainRequest* request,
                                                    v1::VerifyChainResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool one_case = request->scope_case() == v1::VerifyChainRequest::kCaseId;
  const std::string scope =
      one_case ? "hash chain of the case"
               : absl::StrCat("hash chain, ", request->scope_case() == v1::VerifyChainRequest::kRange
                                                  ? Positions(request->range().from(), request->range().to())
                                                  : "the whole log");
  absl::Status s =
      Admit(*context, "AuditService.VerifyChain", CheckVerify(*request), one_case ? request->case_id() : "", scope)
          .status();
  if (s.ok()) s = VerifyFromStore(*store_, *request, response);
  if (!s.ok() && s.code() != absl::StatusCode::kInvalidArgument && s.code() != absl::StatusCode::kNotFound) {
    Logger("audit")->error("msg=verify_failed status_code={}", absl::StatusCodeToString(s.code()));
  }
  reactor->Finish(ToGrpc(s));
  return reactor;
}

grpc::ServerUnaryReactor* AuditService::ReadAccessLog(grpc::CallbackServerContext* context,
                                                      const v1::ReadAccessLogRequest* request,
                                                      v1::ReadAccessLogResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status request_ok;
  if (!request->case_id().empty() && !eventstore::IsValidId(request->case_id())) {
    request_ok = BadRequestError("case_id", absl::StrCat("must be empty (every case) or ", kIdRule));
  } else if (request->limit() > AuditService::kMaxBatchSize) {
    request_ok = BadRequestError("limit", absl::StrCat("must be at most ", AuditService::kMaxBatchSize));
  }
  // Reading the access log is itself recorded, before it is read: the
  // answer includes its own entry.
  absl::Status s = Admit(*context, "AuditService.ReadAccessLog", request_ok, request->case_id(),
                         absl::StrCat("access log from entry ", std::max<uint64_t>(1, request->from_sequence())))
                       .status();
  if (s.ok()) {
    absl::StatusOr<v1::ReadAccessLogResponse> read = access_log_->Read(*request);
    s = read.status();
    if (read.ok()) *response = *std::move(read);
  }
  reactor->Finish(ToGrpc(s));
  return reactor;
}

}  // namespace kring::services
