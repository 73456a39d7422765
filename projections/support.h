// The two-year sustained-support read model (docs/research.md, "Two-year
// sustained support"). Per case it keeps the support network — the own-network
// members (not a coordinator, not invited as PROFESSIONAL) who own at least
// one action of an adopted plan, or, when the plans name none, every
// own-network attendee of every conference, invited or not — and, per
// follow-up recorded before the case's erasure, how many network members it
// reports as still actively supporting. QuerySupport reports mean retention
// (still / network, in double) around 6, 12 and 24 months of 30.44 days after
// the first conference, and a Kaplan–Meier curve of "support held" (the event:
// the first follow-up with retention under the threshold) with numbers at
// risk, events, censored and 95% Greenwood bands.
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
    int32_t day = 0;     // UTC day of occurred_at
    uint32_t still = 0;  // distinct network members reported as still active
  };
  ProfileRow profile;
  uint32_t network = 0;                         // the support network's size
  absl::InlinedVector<FollowUp, 3> follow_ups;  // in day order; none without a network

  // The follow-up's retention: the double nearest still / network.
  double Retention(const FollowUp& f) const { return static_cast<double>(f.still) / network; }
};

class SupportProjection : public CaseStateProjection<storage::SupportCase, SupportRow> {
 public:
  using CaseStateProjection::CaseStateProjection;
  static constexpr char kName[] = "support";
  std::string name() const override { return kName; }
  // 2: erasure ends observation by log position (not by day), retention kept
  // as whole counts (not float), uninvited attendees in the fallback network.
  std::string layout() const override { return "2"; }

 protected:
  bool Relevant(const v1::Event& event) const override;
  absl::Status Fold(const v1::RecordedEvent& event, storage::SupportCase& state) override;
  SupportRow MakeRow(const storage::SupportCase& state) const override;
};

absl::StatusOr<v1::SupportResponse> QuerySupport(const ProjectionEngine& engine, const v1::SupportRequest& request);

extern const char kSupportDefinition[];

}  // namespace kring::projections
