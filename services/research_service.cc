#include "services/research_service.h"

#include "absl/strings/str_cat.h"
#include "eventstore/event_store.h"
#include "projections/network_size.h"
#include "services/grpc_status.h"

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

}  // namespace

grpc::ServerUnaryReactor* ResearchService::GetNetworkSize(grpc::CallbackServerContext* context,
                                                          const v1::NetworkSizeRequest* request,
                                                          v1::NetworkSizeResponse* response) {
  if (request->as_of_position() == 0) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const std::shared_ptr<const projections::ProjectionEngine> engine = network_size_->engine();
    auto answer = projections::QueryNetworkSize(*engine, *request);
    if (answer.ok()) *response = std::move(*answer);
    reactor->Finish(ToGrpc(answer.status()));
    return reactor;
  }

  // As of a position: check what is cheap to check here, replay elsewhere.
  auto* reactor = new CancellableReactor();
  absl::Status invalid = projections::ValidateNetworkSizeRequest(*request);
  const uint64_t head = network_size_->store()->Head().value();
  if (invalid.ok() && request->as_of_position() > head) {
    invalid = absl::InvalidArgumentError(
        absl::StrCat("as_of_position: ", request->as_of_position(), " lies beyond the log's head (", head, ")"));
  }
  if (!invalid.ok()) {
    reactor->Finish(ToGrpc(invalid));
    return reactor;
  }
  const bool started =
      background_.Run("kring-as-of", 10, [this, reactor, request, response](const std::atomic<bool>& stopping) {
        auto keep_going = [&] { return !stopping.load() && !reactor->cancelled(); };
        {
          std::unique_lock<std::mutex> lock(replay_mu_);
          while (replays_running_ >= kMaxConcurrentReplays && keep_going()) {
            replay_cv_.wait_for(lock, std::chrono::milliseconds(100));
          }
          ++replays_running_;
        }
        absl::StatusOr<v1::NetworkSizeResponse> answer = absl::UnavailableError("the server is shutting down");
        if (keep_going()) {
          auto replayed = network_size_->ReplayAsOf(GlobalPosition(request->as_of_position()),
                                                    [&](const projections::CatchUpProgress&) { return keep_going(); });
          if (replayed.ok()) {
            answer = projections::QueryNetworkSize((*replayed)->engine(), *request);
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

}  // namespace kring::services
