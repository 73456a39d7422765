// What every kringctl command shares: its exit codes, the channel to the
// server, and the progress line on stderr.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace kring::client {

// kringctl's exit codes, which scripts may rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // the server refused or failed; a local error
inline constexpr int kExitUsage = 2;        // bad usage
inline constexpr int kExitUnreachable = 3;  // server unreachable or timed out
inline constexpr int kExitChainBroken = 4;  // the hash chain does not verify (verify, restore)

// A channel to the kringd at `server` that accepts large answers.
std::shared_ptr<grpc::Channel> Connect(const std::string& server);

// kExitUnreachable for UNAVAILABLE and DEADLINE_EXCEEDED, kExitRefused otherwise.
int ExitFor(const grpc::Status& status);

// One progress line on stderr, redrawn in place at most every 200 ms:
// "[#####.....]  42% <counts> | <rate> events/s | ETA m:ss".
class ProgressLine {
 public:
  // `eta_seconds` < 0: unknown. A final update (fraction 1) is always drawn.
  void Draw(double fraction, const std::string& counts, double events_per_second, double eta_seconds);
  // Removes the line, e.g. before an error line is printed.
  void Clear();

 private:
  std::chrono::steady_clock::time_point last_;
  bool drawn_ = false;
};

}  // namespace kring::client
