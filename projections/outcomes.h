// The outcomes read model (DESIGN section 4, docs/research.md): per case, the
// outcome types recorded (with the children affected), whether a conference
// was held, and its recorded conference costs. Two queries answer from it:
//
// - QueryOutcomes: per outcome type, the referred cases with it (intention to
//   treat, per 100 referrals) and those of them with a held conference
//   (completers, per 100 conferences), by referral cohort.
// - QueryCostBenefit: over the cases with a held conference, savings from a
//   cost model (the built-in projections/cost_model.json, or the query's
//   own), conference costs as recorded or the model's default, gross and net.
//
// Threads: queries may run on any thread while the engine applies events.
#pragma once

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/research.pb.h"
#include "projections/case_state.h"
#include "projections/engine.h"
#include "projections/research.h"

namespace kring::projections {

// What queries read of a case. Children per outcome type fit a byte each but
// for very unusual cases; those keep them in the state only.
struct OutcomeRow {
  ProfileRow profile;
  uint32_t outcomes = 0;  // as OutcomeCase.outcomes
  bool conference_cost_recorded = false;
  bool children_in_state = false;  // some count is over 255: read OutcomeCase.children
  std::array<uint8_t, v1::OutcomeType_ARRAYSIZE> children{};
  int64_t conference_cost_cents = 0;
};

class OutcomesProjection : public CaseStateProjection<storage::OutcomeCase, OutcomeRow> {
 public:
  using CaseStateProjection::CaseStateProjection;
  static constexpr char kName[] = "outcomes";
  std::string name() const override { return kName; }

 protected:
  bool Relevant(const v1::Event& event) const override;
  absl::Status Fold(const v1::RecordedEvent& event, storage::OutcomeCase& state) override;
  OutcomeRow MakeRow(const storage::OutcomeCase& state) const override;
};

absl::StatusOr<v1::OutcomesResponse> QueryOutcomes(const ProjectionEngine& engine, const v1::OutcomesRequest& request);
absl::StatusOr<v1::CostBenefitResponse> QueryCostBenefit(const ProjectionEngine& engine,
                                                         const v1::CostBenefitRequest& request);

// The built-in cost model (projections/cost_model.json, compiled in).
const v1::CostModel& BuiltInCostModel();
// Checks a cost model, naming the field (under `field`, e.g. "cost_model")
// and the rule.
absl::Status ValidateCostModel(const v1::CostModel& model, const std::string& field);

extern const char kOutcomesDefinition[];
extern const char kCostBenefitDefinition[];

}  // namespace kring::projections
