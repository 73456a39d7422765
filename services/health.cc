#include "services/health.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace kring::services {

HealthMonitor::HealthMonitor(HealthOptions options, HealthInputs inputs)
    : options_(options), inputs_(std::move(inputs)) {
  Evaluate();  // every status is published before the server serves
  thread_ = std::thread([this] { Run(); });
}

HealthMonitor::~HealthMonitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

HealthSnapshot HealthMonitor::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

void HealthMonitor::Run() {
  pthread_setname_np(pthread_self(), "kring-health");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.interval, [this] { return stopping_ || poked_; });
    if (stopping_) break;
    poked_ = false;
    lock.unlock();
    Evaluate();
    lock.lock();
  }
}

namespace {

// A follower's lag and whether it is within `max`.
ServiceHealth FollowerHealth(const std::string& service, const Lag& lag, std::chrono::seconds max) {
  if (lag.seconds <= static_cast<double>(max.count())) return {service, true, ""};
  return {service, false,
          absl::StrFormat("%d events behind the head; the earliest has waited %.0f s (limit %d s)", lag.events,
                          lag.seconds, max.count())};
}

}  // namespace

void HealthMonitor::Evaluate() {
  const auto now = LagClock::Clock::now();
  HealthSnapshot snap;
  // Positions first, the head last: a follower read after the head could
  // be past it.
  std::optional<uint64_t> relay_position;
  if (inputs_.relay_confirmed) relay_position = inputs_.relay_confirmed();
  std::vector<uint64_t> applied;
  for (const auto& model : inputs_.read_models) applied.push_back(model.applied());
  snap.head = inputs_.head();
  clock_.Sample(snap.head, now);
  auto lag_of = [&](const std::string& name, uint64_t position) {
    return Lag{name, position, snap.head > position ? snap.head - position : 0, clock_.LagSeconds(position, now)};
  };

  std::vector<ServiceHealth> services;
  if (inputs_.store) {
    const absl::Status store = inputs_.store();
    services.push_back({kIngestHealthName, store.ok(), std::string(store.message())});
  }
  if (relay_position) {
    snap.relay = lag_of("relay", *relay_position);
    ServiceHealth relay = FollowerHealth(kRelayHealthName, *snap.relay, options_.max_relay_lag);
    if (inputs_.relay_producer) {
      if (const absl::Status producer = inputs_.relay_producer(); !producer.ok()) {
        relay = {kRelayHealthName, false, std::string(producer.message())};
      }
    }
    services.push_back(relay);
  }
  if (!inputs_.read_models.empty()) {
    ServiceHealth research{kResearchHealthName, true, ""};
    for (size_t i = 0; i < inputs_.read_models.size(); ++i) {
      const std::string& name = inputs_.read_models[i].name;
      snap.read_models.push_back(lag_of(name, applied[i]));
      services.push_back(FollowerHealth(absl::StrCat(kReadModelHealthPrefix, name), snap.read_models.back(),
                                        options_.max_read_model_lag));
      if (!services.back().serving && research.serving) {
        research = {kResearchHealthName, false, absl::StrCat("read model ", name, " lags")};
      }
    }
    services.push_back(research);
  }
  ServiceHealth ready{kReadyHealthName, true, ""};
  for (const ServiceHealth& s : services) {
    if (!s.serving) {
      ready = {kReadyHealthName, false, absl::StrCat(s.name, " is not serving")};
      break;
    }
  }
  services.insert(services.begin(), ready);

  uint64_t slowest = snap.head;
  if (relay_position) slowest = std::min(slowest, *relay_position);
  for (uint64_t a : applied) slowest = std::min(slowest, a);
  clock_.Forget(slowest);

  for (const ServiceHealth& s : services) {
    auto before =
        std::find_if(published_.begin(), published_.end(), [&](const ServiceHealth& p) { return p.name == s.name; });
    if (before != published_.end() && before->serving == s.serving) continue;
    if (s.serving) {
      Logger("server")->info("msg=health service={} serving=true", s.name);
    } else {
      Logger("server")->warn("msg=health service={} serving=false reason=\"{}\"", s.name, s.reason);
    }
    if (inputs_.publish) inputs_.publish(s.name, s.serving);
  }
  published_ = services;
  snap.services = std::move(services);
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::move(snap);
}

}  // namespace kring::services
