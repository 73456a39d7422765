// The funnel read model (DESIGN section 4, docs/research.md): per case, the
// first day it reached each step — referral, coordinator, conference, plan,
// plan accepted — why preparation stopped, and whether the right to a plan
// was offered. QueryFunnel counts the cases per step with the median days
// between steps, the stop reasons, and among the cases with a threatened
// protection measure the shares with a plan offered and a plan made.
//
// Threads: queries may run on any thread while the engine applies events.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/research.pb.h"
#include "projections/case_state.h"
#include "projections/engine.h"
#include "projections/research.h"

namespace kring::projections {

// What queries read of a case (days: ProfileRow::kNoDay where not reached).
struct FunnelRow {
  ProfileRow profile;
  int32_t coordinator_day = ProfileRow::kNoDay;
  int32_t plan_adopted_day = ProfileRow::kNoDay;
  int32_t plan_accepted_day = ProfileRow::kNoDay;
  int32_t stop_reason = 0;  // kring.v1.PreparationStopReason
  bool plan_rejected = false;
  bool plan_offered = false;
};

class FunnelProjection : public CaseStateProjection<storage::FunnelCase, FunnelRow> {
 public:
  using CaseStateProjection::CaseStateProjection;
  static constexpr char kName[] = "funnel";
  std::string name() const override { return kName; }

 protected:
  bool Relevant(const v1::Event& event) const override;
  absl::Status Fold(const v1::RecordedEvent& event, storage::FunnelCase& state) override;
  FunnelRow MakeRow(const storage::FunnelCase& state) const override;
};

absl::StatusOr<v1::FunnelResponse> QueryFunnel(const ProjectionEngine& engine, const v1::FunnelRequest& request);

extern const char kFunnelDefinition[];

}  // namespace kring::projections
