// The network-size read model (DESIGN section 4, docs/read-models.md):
// per held conference, the number of distinct attendees from the person's own
// network — central persons included; the coordinator and participants
// invited as professionals excluded. Attendees never invited in the case are
// counted, with relation "unknown". QueryNetworkSize reports count, mean,
// median, p10/p25/p75/p90, histogram and composition by relation, under
// disclosure control.
//
// Threads: queries may run on any thread while the engine applies events.
#pragma once

#include <array>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/research.pb.h"
#include "projections/case_state.h"
#include "projections/engine.h"
#include "projections/research.h"

namespace kring::projections {

// What queries read of a case: its profile and its conferences as counted.
struct NetworkSizeRow {
  struct Conference {
    int32_t day = 0;
    uint32_t network_size = 0;
    uint64_t record_key = 0;  // the conference's (cell_key.h)
    uint32_t central_persons = 0;
    std::array<uint32_t, v1::Relation_ARRAYSIZE> by_relation{};  // by kring.v1.Relation number
  };
  ProfileRow profile;
  absl::InlinedVector<Conference, 1> conferences;
};

class NetworkSizeProjection : public CaseStateProjection<storage::NetworkSizeCase, NetworkSizeRow> {
 public:
  using CaseStateProjection::CaseStateProjection;
  static constexpr char kName[] = "network-size";
  std::string name() const override { return kName; }
  // 2: a state per case, held in memory (1 kept facts per conference); 3:
  // and each conference's record key, under the secret whose fingerprint
  // follows (another secret rebuilds the model).
  std::string layout() const override { return "3-" + secret().Fingerprint(); }

 protected:
  bool Relevant(const v1::Event& event) const override;
  absl::Status Fold(const v1::RecordedEvent& event, storage::NetworkSizeCase& state) override;
  NetworkSizeRow MakeRow(const storage::NetworkSizeCase& state) const override;
};

// Checks a query's filters, naming the field and rule (INVALID_ARGUMENT).
// as_of_position is not checked here: it depends on the log's head.
absl::Status ValidateNetworkSizeRequest(const v1::NetworkSizeRequest& request);

// Answers a query from the read model: filters, groups and summarizes
// (percentiles by linear interpolation between closest ranks, as numpy's
// default and R's type 7; histogram sizes 0..29 and "30 or more"), applies
// disclosure control and reports the watermark. It ignores as_of_position:
// the caller passes the engine to answer from (a ReplayedModel's for a
// position).
absl::StatusOr<v1::NetworkSizeResponse> QueryNetworkSize(const ProjectionEngine& engine,
                                                         const v1::NetworkSizeRequest& request);

// The definition in words, returned with every answer.
extern const char kNetworkSizeDefinition[];

}  // namespace kring::projections
