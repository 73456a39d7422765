// EventStore, staging: how the writer stages one batch into the group it
// builds (idempotency, partner access, expected version, case rules, the
// hash chain). See event_store.h.
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/errors.h"
#include "common/status.h"
#include "eventstore/chain.h"
#include "eventstore/store_internal.h"
#include "kring/storage/eventstore.pb.h"

namespace kring::eventstore {

absl::StatusOr<AppendOutcome> EventStore::RetryOutcome(const Pending& pending, const std::vector<RecordedId>& found,
                                                       const GroupState& state) const {
  const AppendBatch& batch = pending.batch;
  AppendOutcome outcome;
  outcome.already_recorded = true;
  std::string value;
  storage::StoredEventView stored;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].case_id != batch.case_id.value()) {
      return PreconditionError("EVENT_ID_IN_OTHER_CASE", absl::StrCat("events[", i, "].event_id"),
                               "already recorded in another case; event ids are unique across all cases");
    }
    // A retry repeats the same event; the same id on different content is a
    // different event and must not be answered as if it were stored.
    const std::string* recorded_bytes = nullptr;
    const std::string* recorded_source = nullptr;
    if (const GroupState::Staged* staged = state.FindStaged(batch.events[i].event_id()); staged != nullptr) {
      recorded_bytes = staged->bytes;
      recorded_source = staged->source;
    } else {
      ASSIGN_OR_RETURN(value, ReadRecord(found[i].position));
      if (!stored.ParseFromString(value)) {
        return absl::DataLossError(absl::StrCat("event store: unreadable event at position ", found[i].position));
      }
      recorded_bytes = &stored.event();
      recorded_source = &stored.source();
    }
    // A partner's retry is answered with positions only for its own events:
    // replaying another partner's batch learns nothing about it.
    if (batch.own_cases_only && *recorded_source != batch.source) {
      return absl::PermissionDeniedError(absl::StrCat("events[", i,
                                                      "].event_id: recorded by another partner; a partner may only "
                                                      "retry its own batches, and a new event needs a new id"));
    }
    if (*recorded_bytes != pending.serialized[i]) {
      return PreconditionError(
          "EVENT_ID_REUSED", absl::StrCat("events[", i, "].event_id"),
          absl::StrCat("already recorded at global position ", found[i].position,
                       " with different content; an event id names one event forever, so a new event needs a new id"));
    }
    if (i == 0 || found[i].position < outcome.first_position.value()) {
      outcome.first_position = GlobalPosition(found[i].position);
      outcome.first_version = StreamVersion(found[i].version);
    }
    if (i == 0 || found[i].position > outcome.last_position.value()) {
      outcome.last_position = GlobalPosition(found[i].position);
      outcome.last_version = StreamVersion(found[i].version);
    }
  }
  return outcome;
}

absl::StatusOr<uint64_t> EventStore::LoadCaseVersion(const std::string& case_id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), heads_cf_, case_id, &value);
  if (s.IsNotFound()) return 0;
  RETURN_IF_ERROR(FromRocks(s, "read case head"));
  return ReadBigEndian64(value);
}

absl::StatusOr<CaseState> EventStore::LoadCaseState(const std::string& case_id) const {
  ASSIGN_OR_RETURN(uint64_t version, LoadCaseVersion(case_id));
  if (version == 0) return CaseState();
  ASSIGN_OR_RETURN(std::vector<v1::RecordedEvent> events, ReadCaseLocked(CaseId(case_id), StreamVersion(1), SIZE_MAX));
  return FoldCaseState(events);
}

CaseState EventStore::FoldCaseState(const std::vector<v1::RecordedEvent>& events) {
  CaseState state;
  if (events.empty()) return state;
  std::unordered_map<std::string_view, size_t> index;  // event id -> position in `events`
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i].event();
    const v1::Event* retracted = nullptr;
    if (e.has_event_retracted()) {
      if (auto it = index.find(e.event_retracted().retracted_event_id()); it != index.end()) {
        retracted = &events[it->second].event();
      }
    }
    ApplyToCaseState(state, e, events[i].source(), retracted);
    index.emplace(e.event_id(), i);
  }
  state.last_hash = events.back().hash();
  return state;
}

absl::StatusOr<std::optional<RetractionTarget>> EventStore::FindEvent(const std::string& event_id,
                                                                      const GroupState& state) const {
  RetractionTarget target;
  if (const RecordedId* staged = state.FindId(event_id); staged != nullptr) {
    target.case_id = staged->case_id;
    if (!target.event.ParseFromString(*state.FindStaged(event_id)->bytes)) {
      return absl::InternalError("event store: unreadable staged event");
    }
    return target;
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), event_ids_cf_, event_id, &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(s, "read event id"));
  const RecordedId where = DecodeRecordedId(value);
  ASSIGN_OR_RETURN(value, ReadRecord(where.position));
  v1::RecordedEvent recorded;
  if (!recorded.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("event store: unreadable event at position ", where.position));
  }
  RETURN_IF_ERROR(options_.upcasters->Apply(*recorded.mutable_event()));
  target.case_id = recorded.case_id();
  target.event = std::move(*recorded.mutable_event());
  return target;
}

absl::StatusOr<AppendOutcome> EventStore::Stage(const Pending& pending, GroupState& state) {
  const AppendBatch& batch = pending.batch;
  const std::string& case_id = batch.case_id.value();

  // The case's rule state after what is recorded and staged so far.
  auto staged = state.cases.find(case_id);
  if (staged == state.cases.end()) {
    // The group being written has the newest state of its cases (not yet in
    // the database or the cache).
    const CaseState* written = nullptr;
    if (state.previous != nullptr) {
      if (auto it = state.previous->cases.find(case_id); it != state.previous->cases.end()) written = &it->second;
    }
    if (written != nullptr) {
      staged = state.cases.emplace(case_id, *written).first;
    } else if (auto cached = case_states_.find(case_id); cached != case_states_.end()) {
      // Taken out of the cache for the group; Collect puts it back.
      staged = state.cases.emplace(case_id, std::move(cached->second)).first;
      case_states_.erase(cached);
    } else {
      ASSIGN_OR_RETURN(CaseState loaded, LoadCaseState(case_id));
      staged = state.cases.emplace(case_id, std::move(loaded)).first;
    }
  }
  uint64_t current = staged->second.version;

  // Access before anything else: a partner refused a case learns nothing
  // about it (no version, no positions), whatever its batch holds.
  if (batch.own_cases_only) RETURN_IF_ERROR(CheckPartnerMayAppend(staged->second, batch.source));

  // Idempotency: a batch is either entirely new or an exact retry. Ids staged
  // in this group or the one being written are found in memory, the others
  // in one MultiGet (for a batch far cheaper than a Get per id: each table's
  // filter is read once for all of them).
  std::vector<std::optional<RecordedId>> where(batch.events.size());
  std::vector<rocksdb::Slice> keys;
  std::vector<size_t> key_index;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const std::string& id = batch.events[i].event_id();
    if (const RecordedId* staged_id = state.FindId(id); staged_id != nullptr) {
      where[i] = *staged_id;
    } else {
      keys.emplace_back(id);
      key_index.push_back(i);
    }
  }
  if (!keys.empty()) {
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), event_ids_cf_, keys.size(), keys.data(), values.data(), statuses.data());
    for (size_t k = 0; k < keys.size(); ++k) {
      if (statuses[k].IsNotFound()) continue;
      RETURN_IF_ERROR(FromRocks(statuses[k], "read event id"));
      where[key_index[k]] = DecodeRecordedId(values[k].ToStringView());
    }
  }
  std::vector<RecordedId> found;
  size_t first_found = 0;
  for (size_t i = 0; i < where.size(); ++i) {
    if (!where[i]) continue;
    if (found.empty()) first_found = i;
    found.push_back(*std::move(where[i]));
  }
  if (!found.empty()) {
    if (found.size() != batch.events.size()) {
      return PreconditionError("BATCH_PARTLY_RECORDED", absl::StrCat("events[", first_found, "].event_id"),
                               absl::StrCat("already recorded at global position ", found[0].position,
                                            ", but other events of this batch are new; a batch must be ",
                                            "either entirely new or an exact retry of an earlier batch"));
    }
    return RetryOutcome(pending, found, state);
  }

  // Optimistic concurrency against the case's current version.
  const ExpectedVersion& expected = batch.expected;
  // The text stays as it was; the versions also travel as a
  // google.rpc.ErrorInfo, for programs.
  if (expected.kind == ExpectedVersion::Kind::kNoStream && current != 0) {
    return WrongExpectedVersionError(
        absl::StrCat("expected_version: the case must not exist yet, but it is at version ", current,
                     " (current_version=", current, ")"),
        current, std::nullopt);
  }
  if (expected.kind == ExpectedVersion::Kind::kExact && expected.version.value() != current) {
    return WrongExpectedVersionError(
        absl::StrCat("expected_version: expected version ", expected.version.value(), ", but the case is at version ",
                     current, " (current_version=", current, ")"),
        current, expected.version.value());
  }

  // The case rules, event by event, on a copy: a refused batch leaves the
  // state as it was.
  CaseState next = staged->second;
  std::unordered_map<std::string_view, size_t> in_batch;  // event id -> index, for retractions
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const v1::Event& e = batch.events[i];
    std::optional<RetractionTarget> target;
    if (e.has_event_retracted()) {
      const std::string& id = e.event_retracted().retracted_event_id();
      if (auto it = in_batch.find(id); it != in_batch.end()) {
        target = RetractionTarget{case_id, batch.events[it->second]};
      } else {
        ASSIGN_OR_RETURN(target, FindEvent(id, state));
      }
    }
    if (batch.own_cases_only) RETURN_IF_ERROR(CheckCaseAccess(next, batch.source, e, i, target ? &*target : nullptr));
    RETURN_IF_ERROR(CheckCaseRules(next, case_id, e, i, target ? &*target : nullptr));
    ApplyToCaseState(next, e, batch.source, target ? &target->event : nullptr);
    in_batch.emplace(e.event_id(), i);
  }

  AppendOutcome outcome;
  outcome.first_version = StreamVersion(current + 1);
  outcome.first_position = GlobalPosition(state.next_position);
  // The stored bytes are a RecordedEvent: the envelope fields the server sets,
  // then field 6 (event) framed around the bytes serialized by the caller.
  v1::RecordedEvent recorded;
  recorded.set_case_id(case_id);
  *recorded.mutable_recorded_at() = state.recorded_at;
  recorded.set_source(batch.source);
  std::string value;
  constexpr char kEventFieldTag = (6 << 3) | 2;  // field 6, length-delimited
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const std::string& event_id = batch.events[i].event_id();
    const std::string& event_bytes = pending.serialized[i];
    const uint64_t version = ++current;
    const uint64_t position = state.next_position++;
    recorded.set_stream_version(version);
    recorded.set_global_position(position);
    if (!pending.sealed.empty() && !pending.sealed[i].ciphertext().empty()) {
      *recorded.mutable_sealed_personal() = pending.sealed[i];
    } else {
      recorded.clear_sealed_personal();
    }
    value.clear();
    recorded.SerializeToString(&value);
    value.push_back(kEventFieldTag);
    AppendVarint(&value, event_bytes.size());
    value.append(event_bytes);
    state.last_hash = SealRecord(&value, state.last_hash, next.last_hash);
    next.last_hash = state.last_hash;

    const std::string pos_key = BigEndian64(position);
    state.batch.Put(events_cf_, pos_key, value);
    state.batch.Put(event_ids_cf_, event_id, EncodeRecordedId(position, version, case_id));
    state.ids[event_id] = RecordedId{position, version, case_id};
    state.staged_bytes[event_id] = GroupState::Staged{&event_bytes, &batch.source};
  }
  // A batch has consecutive versions at consecutive positions: one index
  // entry per batch locates all of them.
  std::string run = BigEndian64(outcome.first_position.value());
  PutBigEndian64(&run, batch.events.size());
  state.batch.Put(streams_cf_, StreamKey(case_id, outcome.first_version.value()), run);
  state.batch.Put(heads_cf_, case_id, BigEndian64(current));
  staged->second = std::move(next);
  outcome.last_version = StreamVersion(current);
  outcome.last_position = GlobalPosition(state.next_position - 1);
  return outcome;
}

}  // namespace kring::eventstore
