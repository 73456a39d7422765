// absl::Status -> grpc::Status at the edge of the services. The codes share
// their numbers; the message (field path and rule) is kept as is.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kring::services {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace kring::services
