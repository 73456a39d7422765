// HealthMonitor: the truth behind kringd's gRPC health statuses
// (grpc.health.v1) and the lag figures of status and metrics.
//
// Once a second (and whenever the store's write health or the relay's
// producer changes) it samples the log's head and evaluates:
//   kring.v1.IngestService      NOT_SERVING while the store refuses appends
//   kring.relay                 NOT_SERVING while the relay has no producer, or
//                               its lag exceeds max_relay_lag
//   kring.read-model.<name>     NOT_SERVING while the model's lag exceeds
//                               max_read_model_lag
//   kring.v1.ResearchService    NOT_SERVING while any read model is
//   kring.ready                 SERVING when every service above is
// The empty name "" (liveness) is not the monitor's: the server keeps it
// SERVING until shutdown. Lag follows common/lag_clock.h. Every change is
// logged once. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/lag_clock.h"

namespace kring::services {

inline constexpr char kReadyHealthName[] = "kring.ready";
inline constexpr char kIngestHealthName[] = "kring.v1.IngestService";
inline constexpr char kResearchHealthName[] = "kring.v1.ResearchService";
inline constexpr char kRelayHealthName[] = "kring.relay";
inline constexpr char kReadModelHealthPrefix[] = "kring.read-model.";

struct HealthOptions {
  // The relay turns NOT_SERVING once the earliest event it has not published
  // has waited longer than this (brokers down or unreachable).
  // Default: 60 s (--max-relay-lag-seconds, KRING_MAX_RELAY_LAG_SECONDS).
  std::chrono::seconds max_relay_lag{60};
  // A read model turns NOT_SERVING once the earliest event it has not applied
  // has waited longer than this. Default: 60 s (--max-read-model-lag-seconds,
  // KRING_MAX_READ_MODEL_LAG_SECONDS).
  std::chrono::seconds max_read_model_lag{60};
  // How often the head is sampled and the statuses evaluated. Default: 1 s.
  std::chrono::milliseconds interval{1000};
};

// What the monitor watches; a member left empty is a role this process does
// not run (its service is not reported).
struct HealthInputs {
  // The log's head position. Required.
  std::function<uint64_t()> head;
  // Why appends are refused; OK while the store writes.
  std::function<absl::Status()> store;
  // The relay's confirmed (published) position and its producer's health.
  std::function<uint64_t()> relay_confirmed;
  std::function<absl::Status()> relay_producer;
  struct ReadModel {
    std::string name;
    std::function<uint64_t()> applied;  // highest position applied
  };
  std::vector<ReadModel> read_models;
  // Receives every status (service name, serving) when it changes, and each
  // once at the first evaluation.
  std::function<void(const std::string&, bool)> publish;
};

// One service's evaluated status.
struct ServiceHealth {
  std::string name;
  bool serving = false;
  std::string reason;  // why not serving; empty when serving
};

// A follower's lag (decisions in docs/operations.md, "Lag").
struct Lag {
  std::string name;  // "relay" or the read model's name
  uint64_t position = 0;
  uint64_t events = 0;
  double seconds = 0;
};

struct HealthSnapshot {
  uint64_t head = 0;
  std::vector<ServiceHealth> services;  // kring.ready first
  std::optional<Lag> relay;
  std::vector<Lag> read_models;
};

class HealthMonitor {
 public:
  HealthMonitor(HealthOptions options, HealthInputs inputs);
  ~HealthMonitor();  // stops the thread
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Asks for an evaluation now (e.g. the store's write health changed);
  // returns at once.
  void Poke();
  // The last evaluation.
  HealthSnapshot Snapshot() const;

 private:
  void Run();
  void Evaluate();

  const HealthOptions options_;
  const HealthInputs inputs_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool poked_ = false;     // guarded by mu_
  // Owned by the evaluating thread (the constructor, then thread_):
  LagClock clock_;
  std::vector<ServiceHealth> published_;
  HealthSnapshot last_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace kring::services
