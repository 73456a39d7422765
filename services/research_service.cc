#include "services/research_service.h"

#include "projections/network_size.h"
#include "services/grpc_status.h"

namespace kring::services {

grpc::ServerUnaryReactor* ResearchService::GetNetworkSize(grpc::CallbackServerContext* context,
                                                          const v1::NetworkSizeRequest* request,
                                                          v1::NetworkSizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto answer = projections::QueryNetworkSize(*network_size_, *request);
  if (answer.ok()) *response = std::move(*answer);
  reactor->Finish(ToGrpc(answer.status()));
  return reactor;
}

}  // namespace kring::services
