// ResearchService: aggregate answers from the read models. Never returns case,
// participant or coordinator ids.
//
// A query without as_of_position answers from the live read model on the gRPC
// thread. A query "as of" a position replays the read model from the event
// store up to that position into a temporary folder (projections/replay.h) on
// a thread of its own, answers from it and removes it; at most
// kMaxConcurrentReplays run at once, the others wait.
//
// Lifecycle: BeginShutdown() makes replays stop (their queries end with
// UNAVAILABLE); Shutdown() also waits for them. Call both before the event
// store and read models close.
#pragma once

#include <condition_variable>
#include <mutex>

#include "kring/v1/research.grpc.pb.h"
#include "projections/read_model.h"
#include "security/auth.h"
#include "services/background.h"

namespace kring::services {

// The read models the service answers from; they must outlive it.
struct ResearchModels {
  const projections::LiveReadModel* network_size = nullptr;
  const projections::LiveReadModel* outcomes = nullptr;  // outcomes and cost-benefit
  const projections::LiveReadModel* funnel = nullptr;
  const projections::LiveReadModel* support = nullptr;
};

class ResearchService final : public v1::ResearchService::CallbackService {
 public:
  static constexpr int kMaxConcurrentReplays = 2;

  // Every call needs the researcher role. `auth` must outlive the service.
  ResearchService(ResearchModels models, const security::Authenticator* auth) : models_(models), auth_(auth) {}
  ~ResearchService() override { Shutdown(); }

  grpc::ServerUnaryReactor* GetNetworkSize(grpc::CallbackServerContext* context, const v1::NetworkSizeRequest* request,
                                           v1::NetworkSizeResponse* response) override;
  grpc::ServerUnaryReactor* GetOutcomes(grpc::CallbackServerContext* context, const v1::OutcomesRequest* request,
                                        v1::OutcomesResponse* response) override;
  grpc::ServerUnaryReactor* GetCostBenefit(grpc::CallbackServerContext* context, const v1::CostBenefitRequest* request,
                                           v1::CostBenefitResponse* response) override;
  grpc::ServerUnaryReactor* GetSustainedSupport(grpc::CallbackServerContext* context, const v1::SupportRequest* request,
                                                v1::SupportResponse* response) override;
  grpc::ServerUnaryReactor* GetFunnel(grpc::CallbackServerContext* context, const v1::FunnelRequest* request,
                                      v1::FunnelResponse* response) override;

  void BeginShutdown() { background_.BeginShutdown(); }
  void Shutdown() { background_.Shutdown(); }

 private:
  // Answers `request` with `query` over `model`: live, or as of a position.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, const Request* request, Response* response,
                                   const projections::LiveReadModel* model,
                                   absl::StatusOr<Response> (*query)(const projections::ProjectionEngine&,
                                                                     const Request&));

  const ResearchModels models_;
  const security::Authenticator* const auth_;
  std::mutex replay_mu_;
  std::condition_variable replay_cv_;
  int replays_running_ = 0;
  BackgroundWork background_;
};

}  // namespace kring::services
