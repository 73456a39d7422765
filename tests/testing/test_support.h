// Builders for test events and batches, and temporary folders. Shared by every
// test executable through the kring_testing library.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/event_store.h"
#include "kring/v1/events.pb.h"

namespace kring::testing {

// A fresh folder under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An event store at `path` that does not sync its writes: for tests of
// figures, not of durability.
absl::StatusOr<std::unique_ptr<eventstore::EventStore>> OpenUnsyncedStore(const std::string& path);

// The names of the regular files under `dir` (recursively) whose bytes
// contain `needle`: where a planted secret may have leaked to.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle);

// A random canonical UUID.
std::string NewUuid();

// An event with a fresh id, occurred on the given day (UTC noon).
v1::Event EventOn(int year, int month, int day);

v1::Event CaseReferredEvent(v1::Domain domain = v1::DOMAIN_YOUTH_PROTECTION, const std::string& municipality = "GM0363",
                            int year = 2023, int month = 1, int day = 10);
v1::Event CoordinatorAssignedEvent(const std::string& coordinator_id, int year = 2023, int month = 1, int day = 12);
v1::Event ParticipantInvitedEvent(const std::string& participant_id, v1::Relation relation,
                                  bool central_person = false);
v1::Event ConferenceHeldEvent(const std::vector<std::string>& attendee_ids, int year = 2023, int month = 3,
                              int day = 1);

// A batch of `events` for `case_id` with expectation "any".
eventstore::AppendBatch Batch(const std::string& case_id, std::vector<v1::Event> events,
                              eventstore::ExpectedVersion expected = eventstore::ExpectedVersion::Any());

// A CostRecorded event (EUR), valid at any time after the referral.
v1::Event CostRecordedEvent(int64_t amount_cents = 400000);

// Handy where only counts and order matter: the first batch of a new case
// (CaseReferred, then n-1 CostRecorded) and more events for a case that
// exists (n CostRecorded).
std::vector<v1::Event> SomeEvents(size_t n);
std::vector<v1::Event> MoreEvents(size_t n);

// More payloads, each on the given day (UTC noon). The case rules decide
// where they may go: a plan needs a conference, a decision and a follow-up a
// plan, action owners and active supporters must be invited participants.
// A plan whose actions are (owner id, owner kind), numbered "a1", "a2", …
v1::Event PlanAdoptedEvent(const std::vector<std::pair<std::string, v1::ActionOwnerKind>>& owners, int year = 2023,
                           int month = 3, int day = 1);
v1::Event PlanDecidedEvent(v1::PlanDecision decision, int year = 2023, int month = 3, int day = 15);
v1::Event PlanRightOfferedEvent(v1::LegalFramework framework = v1::LEGAL_FRAMEWORK_JEUGDWET, int year = 2023,
                                int month = 1, int day = 11);
v1::Event PreparationStoppedEvent(v1::PreparationStopReason reason, int year = 2023, int month = 2, int day = 1);
v1::Event FollowUpRecordedEvent(const std::vector<std::string>& active_supporter_ids, int year = 2023, int month = 9,
                                int day = 1);
v1::Event OutcomeRecordedEvent(v1::OutcomeType outcome, uint32_t children_affected = 0, int year = 2023, int month = 9,
                               int day = 1);
// An EventRetracted naming `target`.
v1::Event RetractionOf(const v1::Event& target, int year = 2024, int month = 2, int day = 1);

}  // namespace kring::testing

namespace kring::testing {

// A message read back from the events topic.
struct ConsumedEvent {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::map<std::string, std::string> headers;
  v1::RecordedEvent event;
};

// A gRPC channel with a connection of its own (not shared with other
// channels), no send limit and a 64 MiB receive limit.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

// One request to the server reflection service (grpc.reflection.v1alpha),
// as raw bytes of a ServerReflectionRequest; returns the raw bytes of the
// first ServerReflectionResponse (empty if the call failed).
std::string ServerReflectionCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& request);

// The cluster id a Kafka cluster reports (empty if unreachable).
std::string ClusterId(const std::string& bootstrap);

// Each partition's first and next offset on a topic: partition -> (low,
// high); high - low messages are on it. Empty if the cluster does not answer.
std::map<int32_t, std::pair<int64_t, int64_t>> TopicOffsets(const std::string& bootstrap, const std::string& topic);

// Whether a consumer has consumed every message on the topic: for each
// partition, `next_offset(cluster_id, partition)` (the next offset it
// stored; nullopt: none) is the partition's end. False if the cluster does not
// answer.
bool ConsumedToTheEnd(
    const std::string& bootstrap, const std::string& topic,
    const std::function<std::optional<int64_t>(const std::string& cluster_id, int32_t partition)>& next_offset);

// The niceness of every thread of this process, by thread name (from
// /proc/self/task): name -> the niceness of each thread of that name.
std::map<std::string, std::multiset<int>> ThreadNiceness();
// The scheduling policy (SCHED_OTHER, SCHED_IDLE, ...) of every thread of this
// process, by thread name, likewise.
std::map<std::string, std::multiset<int>> ThreadPolicies();

// Checks `done` every 20 ms until it holds (true) or `timeout` passes
// (false): a generous deadline for a condition, not a timing bound.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Reads the topic from the beginning of every partition until `expected`
// messages arrived, no more arrive for `settle`, or `timeout` passes.
std::vector<ConsumedEvent> ConsumeTopic(const std::string& bootstrap, const std::string& topic, size_t expected,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                        std::chrono::milliseconds settle = std::chrono::milliseconds(500));

}  // namespace kring::testing
