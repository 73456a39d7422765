#include "services/research_service.h"

#include "absl/strings/str_cat.h"
#include "eventstore/event_store.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/support.h"
#include "services/grpc_status.h"
#include "services/provenance.h"

namespace kring::services {
namespace {

// A unary reactor that notices cancellation, for answers computed on another
// thread: that thread calls Finish once, and touches nothing afterwards.
class CancellableReactor : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

// A research query whose answer leaves with its Provenance
// (services/provenance.h), set last.
template <typename F>
struct QuerySignature;
template <typename Req, typename Resp>
struct QuerySignature<absl::StatusOr<Resp> (*)(const projections::ProjectionEngine&, const Req&)> {
  using Request = Req;
  using Response = Resp;
};
template <auto Query>
absl::StatusOr<typename QuerySignature<decltype(Query)>::Response> WithProvenance(
    const projections::ProjectionEngine& engine, const typename QuerySignature<decltype(Query)>::Request& request) {
  auto answer = Query(engine, request);
  if (answer.ok()) SetProvenance(request, &*answer);
  return answer;
}

}  // namespace

template <typename Request, typename Response>
grpc::ServerUnaryReactor* ResearchService::Answer(
    grpc::CallbackServerContext* context, const Request* request, Response* response,
    const projections::LiveReadModel* model,
    absl::StatusOr<Response> (*query)(const projections::ProjectionEngine&, const Request&)) {
  if (absl::Status allowed = auth_->Authorize(*context, security::Role::kResearcher).status(); !allowed.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpc(allowed));
    return reactor;
  }
  // The live answer: also what checks every field of the request (naming the
  // field and rule), before an "as of" query spends a replay on it.
  const std::shared_ptr<const projections::ProjectionEngine> engine = model->engine();
  absl::StatusOr<Response> live = query(*engine, *request);
  if (request->as_of_position() == 0 || !live.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (live.ok()) *response = std::move(*live);
    reactor->Finish(ToGrpc(live.status()));
    return reactor;
  }

  // As of a position: replay elsewhere.
  auto* reactor = new CancellableReactor();
  const uint64_t head = model->store()->Head().value();
  if (request->as_of_position() > head) {
    reactor->Finish(ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("as_of_position: ", request->as_of_position(), " lies beyond the log's head (", head, ")"))));
    return reactor;
  }
  const bool started = background_.Run(
      "kring-as-of", 10, [this, reactor, request, response, model, query](const std::atomic<bool>& stopping) {
        auto keep_going = [&] { return !stopping.load() && !reactor->cancelled(); };
        {
          std::unique_lock<std::mutex> lock(replay_mu_);
          while (replays_running_ >= kMaxConcurrentReplays && keep_going()) {
            replay_cv_.wait_for(lock, std::chrono::milliseconds(100));
          }
          ++replays_running_;
        }
        absl::StatusOr<Response> answer = absl::UnavailableError("the server is shutting down");
        if (keep_going()) {
          auto replayed = model->ReplayAsOf(GlobalPosition(request->as_of_position()),
                                            [&](const projections::CatchUpProgress&) { return keep_going(); });
          if (replayed.ok()) {
            answer = query((*replayed)->engine(), *request);
          } else if (replayed.status().code() == absl::StatusCode::kCancelled && stopping.load()) {
            answer = absl::UnavailableError("the server is shutting down");
          } else {
            answer = replayed.status();
          }
        }
        {
          std::lock_guard<std::mutex> lock(replay_mu_);
          --replays_running_;
          replay_cv_.notify_one();
        }
        if (answer.ok()) *response = std::move(*answer);
        reactor->Finish(ToGrpc(answer.status()));
      });
  if (!started) reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  return reactor;
}

grpc::ServerUnaryReactor* ResearchService::GetNetworkSize(grpc::CallbackServerContext* context,
                                                          const v1::NetworkSizeRequest* request,
                                                          v1::NetworkSizeResponse* response) {
  return Answer(context, request, response, models_.network_size, &WithProvenance<&projections::QueryNetworkSize>);
}

grpc::ServerUnaryReactor* ResearchService::GetOutcomes(grpc::CallbackServerContext* context,
                                                       const v1::OutcomesRequest* request,
                                                       v1::OutcomesResponse* response) {
  return Answer(context, request, response, models_.outcomes, &WithProvenance<&projections::QueryOutcomes>);
}

grpc::ServerUnaryReactor* ResearchService::GetCostBenefit(grpc::CallbackServerContext* context,
                                                          const v1::CostBenefitRequest* request,
                                                          v1::CostBenefitResponse* response) {
  return Answer(context, request, response, models_.outcomes, &WithProvenance<&projections::QueryCostBenefit>);
}

grpc::ServerUnaryReactor* ResearchService::GetSustainedSupport(grpc::CallbackServerContext* context,
                                                               const v1::SupportRequest* request,
                                                               v1::SupportResponse* response) {
  return Answer(context, request, response, models_.support, &WithProvenance<&projections::QuerySupport>);
}

grpc::ServerUnaryReactor* ResearchService::GetFunnel(grpc::CallbackServerContext* context,
                                                     const v1::FunnelRequest* request, v1::FunnelResponse* response) {
  return Answer(context, request, response, models_.funnel, &WithProvenance<&projections::QueryFunnel>);
}

}  // namespace kring::services
