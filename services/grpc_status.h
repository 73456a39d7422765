// absl::Status -> grpc::Status at the edge of the services. The codes share
// their numbers; the message (field path and rule) is kept as is, and the
// google.rpc error details the status carries (common/errors.h) travel in the
// standard `grpc-status-details-bin` trailer as a google.rpc.Status.
#pragma once

#include <grpcpp/support/server_callback.h>
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

// Streaming calls refused before they start (no credentials, wrong role, a
// bad request): the reactor finishes at once and deletes itself when done.
template <typename Response>
class RefusedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriteReactor(const absl::Status& status) { this->Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

template <typename Request, typename Response>
class RefusedBidiReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedBidiReactor(const absl::Status& status) { this->Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

}  // namespace kring::services
