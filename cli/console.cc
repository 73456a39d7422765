#include "cli/console.h"

#include <algorithm>
#include <cstdio>

namespace kring::client {

std::shared_ptr<grpc::Channel> Connect(const std::string& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

int ExitFor(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
             ? kExitUnreachable
             : kExitRefused;
}

void ProgressLine::Draw(double fraction, const std::string& counts, double events_per_second, double eta_seconds) {
  const auto now = std::chrono::steady_clock::now();
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (drawn_ && now - last_ < std::chrono::milliseconds(200) && fraction < 1.0) return;
  last_ = now;
  const int filled = static_cast<int>(fraction * 30);
  char eta[32] = "--:--";
  if (eta_seconds >= 0 && fraction < 1.0) {
    const long s = static_cast<long>(eta_seconds);
    std::snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
  }
  std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%% %s | %.0f events/s | ETA %s", std::string(filled, '#').c_str(),
               std::string(30 - filled, '.').c_str(), 100 * fraction, counts.c_str(), events_per_second, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace kring::client
