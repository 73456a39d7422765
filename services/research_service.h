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
#include "services/background.h"

namespace kring::services {

class ResearchService final : public v1::ResearchService::CallbackService {
 public:
  static constexpr int kMaxConcurrentReplays = 2;

  explicit ResearchService(const projections::LiveReadModel* network_size) : network_size_(network_size) {}
  ~ResearchService() override { Shutdown(); }

  grpc::ServerUnaryReactor* GetNetworkSize(grpc::CallbackServerContext* context, const v1::NetworkSizeRequest* request,
                                           v1::NetworkSizeResponse* response) override;

  void BeginShutdown() { background_.BeginShutdown(); }
  void Shutdown() { background_.Shutdown(); }

 private:
  const projections::LiveReadModel* const network_size_;
  std::mutex replay_mu_;
  std::condition_variable replay_cv_;
  int replays_running_ = 0;
  BackgroundWork background_;
};

}  // namespace kring::services
