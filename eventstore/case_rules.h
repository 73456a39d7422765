// The case rules of the write side (DESIGN section 2): what an event may do
// given what its case already holds. The writer thread checks every event of a
// batch against the case's state, in order, inside the group write, so two
// concurrent batches can never both pass a rule that only one may pass; a
// batch with any violation is refused whole (FAILED_PRECONDITION with a
// google.rpc.PreconditionFailure naming the rule, the field path and why).
//
// A retracted event counts as never recorded: the state holds, for every fact
// the rules ask about, how many live (not retracted) events established it,
// so a retraction undoes exactly its target's contribution.
//
// Pure functions over values: no I/O, usable from the writer, from tests and
// from the fuzzer alike.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "absl/status/status.h"
#include "kring/v1/events.pb.h"

namespace kring::eventstore {

// What the rules need to know about a case: the fold of its events.
struct CaseState {
  uint64_t version = 0;  // events recorded, retractions and retracted ones included
  uint32_t referrals = 0;
  uint32_t conferences = 0;
  uint32_t plans = 0;
  uint32_t closures = 0;
  uint32_t erasures = 0;  // personal_data_erased (at most one)
  // The source (authenticated sender) of the case's first case_referred.
  std::string referrer;
  // Partners granted access (case_access_granted), by identity name.
  std::unordered_map<std::string, uint32_t> granted;
  // id -> number of live events naming it.
  std::unordered_map<std::string, uint32_t> coordinators;
  std::unordered_map<std::string, uint32_t> central;  // central persons named in case_referred
  std::unordered_map<std::string, uint32_t> invited;  // participants invited
  std::unordered_map<std::string, uint32_t> actions;  // actions of adopted plans
  std::unordered_set<std::string> retracted;          // event ids withdrawn by EventRetracted
  // Not a rule: the hash of the case's last event, which the next one links
  // to (chain.h).
  std::string last_hash;
};

// The event an EventRetracted names, as found in the store (or earlier in the
// same group or batch).
struct RetractionTarget {
  std::string case_id;
  v1::Event event;
};

// OK if `event` (index `index` of its batch, for field paths) may be appended
// to a case in `state`. For an EventRetracted, `target` is the event it names
// (nullptr when no event has that id).
absl::Status CheckCaseRules(const CaseState& state, const std::string& case_id, const v1::Event& event, size_t index,
                            const RetractionTarget* target);

// For a batch from a partner (AppendBatch::own_cases_only), checked before
// anything else about the batch (expected version, event ids, rules): OK if
// the case is new or `source` referred it or was granted access to it;
// otherwise PERMISSION_DENIED with one message that reveals nothing about the
// case (not its version, positions or events).
absl::Status CheckPartnerMayAppend(const CaseState& state, const std::string& source);

// For a batch from a partner (AppendBatch::own_cases_only): OK if `source`
// may append `event` to a case in `state` — the case is new, or `source`
// referred it or was granted access; only the referrer may grant access or
// retract a grant. PERMISSION_DENIED otherwise.
absl::Status CheckCaseAccess(const CaseState& state, const std::string& source, const v1::Event& event, size_t index,
                             const RetractionTarget* target);

// Folds an accepted or recorded event, sent by `source`, into `state`. For an
// EventRetracted, `retracted` is the payload of the event it withdraws.
void ApplyToCaseState(CaseState& state, const v1::Event& event, const std::string& source, const v1::Event* retracted);

}  // namespace kring::eventstore
