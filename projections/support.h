// The two-year sustained-support read model (DESIGN section 4,
// docs/research.md). Per case it keeps the support network — the
// non-professional participants who own at least one plan action, or all
// non-professional attendees when the plans name none — and every follow-up's
// retention: the share of that network the follow-up reports as still
// actively supporting. QuerySupport reports mean retention around 6, 12 and
// 24 months after the (first) conference, and a Kaplan–Meier curve of
// "support held" (the event: the first follow-up with retention under the
// threshold) with numbers at risk, events, censored and 95% Greenwood bands.
//
// Threads: queries may run on any thread while the engine applies events.
#pragma once

#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/research.pb.h"
#include "projections/case_state.h"
#include "projections/engine.h"
#include "projections/research.h"

namespace kring::projections {

// What queries read of a case: the derived fields of its state.
struct SupportRow {
  struct FollowUp {
    int32_t day = 0;
    float retention = 0;
  };
  ProfileRow profile;
  uint32_t network = 0;                         // the support network's size
  int32_t erased_day = INT32_MAX;               // observation ends here
  absl::InlinedVector<FollowUp, 3> follow_ups;  // in day order; none without a network
};

class SupportProjection : public CaseStateProjection<storage::SupportCase, SupportRow> {
 public:
  using CaseStateProjection::CaseStateProjection;
  static constexpr char kName[] = "support";
  std::string name() const override { return kName; }

 protected:
  bool Relevant(const v1::Event& event) const override;
  absl::Status Fold(const v1::RecordedEvent& event, storage::SupportCase& state) override;
  SupportRow MakeRow(const storage::SupportCase& state) const override;
};

absl::StatusOr<v1::SupportResponse> QuerySupport(const ProjectionEngine& engine, const v1::SupportRequest& request);

extern const char kSupportDefinition[];

}  // namespace kring::projections
