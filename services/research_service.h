// ResearchService: aggregate answers from the read models. Never returns case,
// participant or coordinator ids.
#pragma once

#include "kring/v1/research.grpc.pb.h"
#include "projections/engine.h"

namespace kring::services {

class ResearchService final : public v1::ResearchService::CallbackService {
 public:
  explicit ResearchService(const projections::ProjectionEngine* network_size) : network_size_(network_size) {}

  grpc::ServerUnaryReactor* GetNetworkSize(grpc::CallbackServerContext* context, const v1::NetworkSizeRequest* request,
                                           v1::NetworkSizeResponse* response) override;

 private:
  const projections::ProjectionEngine* const network_size_;
};

}  // namespace kring::services
