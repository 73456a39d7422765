// absl::Status -> grpc::Status at the edge of the services. The codes share
// their numbers; the message (field path and rule) is kept as is, and the
// google.rpc error details the status carries (common/errors.h) travel in the
// standard `grpc-status-details-bin` trailer as a google.rpc.Status.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "common/errors.h"

namespace kring::services {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  const google::rpc::Status rpc = ToRpcStatus(s);
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                      rpc.details_size() ? rpc.SerializeAsString() : std::string());
}

}  // namespace kring::services
