#include "projections/funnel.h"

#include <array>
#include <map>

#include "common/status.h"
#include "projections/comparison.h"
#include "projections/research.h"
#include "projections/statistics.h"

namespace kring::projections {
namespace {

constexpr int kStopReasons = v1::PreparationStopReason_ARRAYSIZE;  // index 0 unused
// Steps after the referral, in order; index i's previous step is i - 1 (the
// referral for index 0).
constexpr std::array<v1::FunnelStep, 4> kSteps = {v1::FUNNEL_STEP_COORDINATOR_ASSIGNED, v1::FUNNEL_STEP_CONFERENCE_HELD,
                                                  v1::FUNNEL_STEP_PLAN_ADOPTED, v1::FUNNEL_STEP_PLAN_ACCEPTED};

// The first day of each step the case reached; kNoDay where it did not.
std::array<int32_t, 5> StepDays(const FunnelRow& c) {
  return {c.profile.referral_day, c.coordinator_day, c.profile.conference_day, c.plan_adopted_day, c.plan_accepted_day};
}

struct FunnelTally {
  uint64_t referred = 0;
  std::array<uint64_t, kSteps.size()> reached{};
  std::array<DenseCounts, kSteps.size()> days_from_previous;
  std::array<uint64_t, kStopReasons> stopped{};
  uint64_t rejected = 0;
  uint64_t protection = 0, offered = 0, made = 0;
  // The cell keys (cell_key.h) of the counts above, as Cells() orders them
  // after the referred cases' own.
  CellKey referred_key;
  std::array<CellKey, kSteps.size() + kStopReasons + 3> keys{};

  void Add(const FunnelRow& c) {
    const uint64_t key = c.profile.record_key;
    ++referred;
    referred_key.Add(key);
    const auto days = StepDays(c);
    const size_t rejected_col = kSteps.size(), protection_col = rejected_col + kStopReasons;
    for (size_t i = 0; i < kSteps.size(); ++i) {
      if (days[i + 1] == ProfileRow::kNoDay) continue;
      ++reached[i];
      keys[i].Add(key);
      // A step recorded without its previous one (a plan decided on a case
      // whose conference was retracted, say) has no interval.
      if (days[i] != ProfileRow::kNoDay) days_from_previous[i].Add(int64_t{days[i + 1]} - days[i]);
    }
    if (c.stop_reason > 0 && c.stop_reason < kStopReasons) {
      ++stopped[c.stop_reason];
      keys[rejected_col + c.stop_reason].Add(key);
    }
    if (c.plan_rejected) {
      ++rejected;
      keys[rejected_col].Add(key);
    }
    if (c.profile.protection_measure) {
      ++protection;
      keys[protection_col].Add(key);
      if (c.plan_offered) {
        ++offered;
        keys[protection_col + 1].Add(key);
      }
      if (c.plan_adopted_day != ProfileRow::kNoDay) {
        ++made;
        keys[protection_col + 2].Add(key);
      }
    }
  }
  void Merge(const FunnelTally& o) {
    referred += o.referred;
    for (size_t i = 0; i < kSteps.size(); ++i) {
      reached[i] += o.reached[i];
      days_from_previous[i].Merge(o.days_from_previous[i]);
    }
    for (int r = 0; r < kStopReasons; ++r) stopped[r] += o.stopped[r];
    rejected += o.rejected;
    protection += o.protection;
    offered += o.offered;
    made += o.made;
    referred_key.Merge(o.referred_key);
    for (size_t i = 0; i < keys.size(); ++i) keys[i].Merge(o.keys[i]);
  }
  uint64_t Total() const { return referred; }
  // Columns: the steps, rejected, the stop reasons, then protection cases,
  // offered and made.
  std::vector<uint64_t> Cells() const {
    std::vector<uint64_t> cells(reached.begin(), reached.end());
    cells.push_back(rejected);
    cells.insert(cells.end(), stopped.begin() + 1, stopped.end());
    cells.push_back(protection);
    cells.push_back(offered);
    cells.push_back(made);
    return cells;
  }
};

// Within a group (columns as FunnelTally::Cells): every step in the referred
// cases and in each step before it; rejected plans in the adopted ones; stop
// reasons and protection cases in the referred cases; plans offered and made
// in the protection cases, and made also in the adopted ones.
const std::vector<Nested>& FunnelNesting() {
  static const std::vector<Nested> nested = [] {
    const size_t rejected = kSteps.size(), first_stop = rejected + 1, protection = first_stop + kStopReasons - 1;
    const size_t offered = protection + 1, made = protection + 2, adopted = 2;
    std::vector<Nested> n;
    for (size_t i = 0; i < kSteps.size(); ++i) {
      n.push_back({Nested::kTotal, i});
      for (size_t j = i + 1; j < kSteps.size(); ++j) n.push_back({i, j});
    }
    n.push_back({Nested::kTotal, rejected});
    n.push_back({adopted, rejected});
    for (size_t r = first_stop; r < protection; ++r) n.push_back({Nested::kTotal, r});
    n.push_back({Nested::kTotal, protection});
    for (size_t inner : {offered, made}) {
      n.push_back({Nested::kTotal, inner});
      n.push_back({protection, inner});
    }
    n.push_back({adopted, made});
    return n;
  }();
  return nested;
}

// Counts are published perturbed (cell_key.h), shares from the perturbed
// counts; medians are of the exact days.
absl::Status Fill(const FunnelTally& t, const Selection& selection, const Disclosed& d, size_t row,
                  v1::FunnelGroup* out) {
  size_t col = 0;
  // Column `col`'s published count (of `exact` cases).
  auto published = [&](uint64_t exact, size_t column) { return PublishedCount(exact, t.keys[column], selection); };
  const bool referred_ok = d.total(row) == Suppression::kNone;
  const uint64_t referred_cases = PublishedCount(t.referred, t.referred_key, selection);
  v1::FunnelStepFigure* referred = out->add_steps();
  referred->set_step(v1::FUNNEL_STEP_REFERRED);
  referred->set_suppression(ToProto(d.total(row)));
  if (referred_ok) {
    referred->set_cases(referred_cases);
    referred->set_share_of_referred(1.0);
    SetWilson(referred_cases, referred_cases, 1, referred->mutable_share_of_referred_ci());
  }
  for (size_t i = 0; i < kSteps.size(); ++i, ++col) {
    v1::FunnelStepFigure* f = out->add_steps();
    f->set_step(kSteps[i]);
    f->set_suppression(ToProto(d.cell(row, col)));
    if (d.cell(row, col) != Suppression::kNone) continue;
    const uint64_t cases = published(t.reached[i], col);
    f->set_cases(cases);
    if (referred_ok && referred_cases > 0) {
      f->set_share_of_referred(static_cast<double>(cases) / referred_cases);
      SetWilson(cases, referred_cases, 1, f->mutable_share_of_referred_ci());
    }
    if (auto median = Percentile(t.days_from_previous[i].ToMap(), 0.5); median.ok()) {
      f->set_median_days_from_previous(*median);
    }
  }
  out->set_plan_rejected_suppression(ToProto(d.cell(row, col)));
  if (d.cell(row, col) == Suppression::kNone) out->set_plan_rejected(published(t.rejected, col));
  ++col;
  for (int r = 1; r < kStopReasons; ++r, ++col) {
    v1::StopReasonFigure* f = out->add_stop_reasons();
    f->set_reason(static_cast<v1::PreparationStopReason>(r));
    f->set_suppression(ToProto(d.cell(row, col)));
    if (d.cell(row, col) == Suppression::kNone) f->set_cases(published(t.stopped[r], col));
  }
  v1::PlanRightFigures* p = out->mutable_plan_right();
  const Suppression ps = d.cell(row, col), os = d.cell(row, col + 1), ms = d.cell(row, col + 2);
  p->set_protection_suppression(ToProto(ps));
  p->set_offered_suppression(ToProto(os));
  p->set_made_suppression(ToProto(ms));
  const uint64_t protection = published(t.protection, col), offered = published(t.offered, col + 1),
                 made = published(t.made, col + 2);
  if (ps == Suppression::kNone) p->set_protection_cases(protection);
  if (os == Suppression::kNone) p->set_plan_offered(offered);
  if (ms == Suppression::kNone) p->set_plan_made(made);
  if (ps == Suppression::kNone && protection > 0) {
    if (os == Suppression::kNone) {
      p->set_share_offered(static_cast<double>(offered) / protection);
      SetWilson(offered, protection, 1, p->mutable_share_offered_ci());
    }
    if (ms == Suppression::kNone) {
      p->set_share_made(static_cast<double>(made) / protection);
      SetWilson(made, protection, 1, p->mutable_share_made_ci());
    }
  }
  return absl::OkStatus();
}

// What a comparison compares of a funnel group: each step's share of the
// referred cases, and the plan-right shares.
std::vector<ComparedFigure> FunnelFigures(const v1::FunnelGroup& g) {
  std::vector<ComparedFigure> out;
  const double referred = g.steps_size() > 0 ? static_cast<double>(g.steps(0).cases()) : 0;
  for (const v1::FunnelStepFigure& f : g.steps()) {
    if (f.step() == v1::FUNNEL_STEP_REFERRED) continue;  // 1 in every group
    out.push_back(Proportion("share_of_referred", v1::FunnelStep_Name(f.step()), f.has_share_of_referred(), f.cases(),
                             referred, 1, f.share_of_referred()));
  }
  const v1::PlanRightFigures& p = g.plan_right();
  out.push_back(Proportion("share_offered", "", p.has_share_offered(), p.plan_offered(), p.protection_cases(), 1,
                           p.share_offered()));
  out.push_back(
      Proportion("share_made", "", p.has_share_made(), p.plan_made(), p.protection_cases(), 1, p.share_made()));
  return out;
}

}  // namespace

const char kFunnelDefinition[] =
    "funnel = per referral cohort, the referred cases that reached each step: coordinator (CoordinatorAssigned), "
    "conference (ConferenceHeld), plan (PlanAdopted), accepted (PlanDecided ACCEPTED); a step counts once per case, "
    "at its first event. Median days from the previous step's first event to the step's first event, over the cases "
    "with both, by linear interpolation between closest ranks. Stop reasons: the first PreparationStopped. Right to "
    "a plan: of the cases referred with at least one threatened protection measure, those with a PlanRightOffered "
    "and those with a PlanAdopted. Retracted events count as never recorded.";

bool FunnelProjection::Relevant(const v1::Event& e) const {
  return e.has_case_referred() || e.has_conference_held() || e.has_coordinator_assigned() ||
         e.has_preparation_stopped() || e.has_plan_right_offered() || e.has_plan_adopted() || e.has_plan_decided();
}

absl::Status FunnelProjection::Fold(const v1::RecordedEvent& event, storage::FunnelCase& c) {
  FoldProfile(event, *c.mutable_profile());
  const v1::Event& e = event.event();
  const int32_t day = DayOf(e.occurred_at());
  if (e.has_coordinator_assigned() && !c.has_coordinator_day()) c.set_coordinator_day(day);
  if (e.has_preparation_stopped() && c.stop_reason() == v1::PREPARATION_STOP_REASON_UNSPECIFIED) {
    c.set_stop_reason(e.preparation_stopped().reason());
  }
  if (e.has_plan_right_offered()) c.set_plan_offered(true);
  if (e.has_plan_adopted() && !c.has_plan_adopted_day()) c.set_plan_adopted_day(day);
  if (e.has_plan_decided()) {
    if (e.plan_decided().decision() == v1::PLAN_DECISION_ACCEPTED && !c.has_plan_accepted_day()) {
      c.set_plan_accepted_day(day);
    }
    if (e.plan_decided().decision() == v1::PLAN_DECISION_REJECTED) c.set_plan_rejected(true);
  }
  return absl::OkStatus();
}

FunnelRow FunnelProjection::MakeRow(const storage::FunnelCase& c) const {
  FunnelRow row;
  row.profile = ToRow(c.profile());
  if (c.has_coordinator_day()) row.coordinator_day = c.coordinator_day();
  if (c.has_plan_adopted_day()) row.plan_adopted_day = c.plan_adopted_day();
  if (c.has_plan_accepted_day()) row.plan_accepted_day = c.plan_accepted_day();
  row.stop_reason = c.stop_reason();
  row.plan_rejected = c.plan_rejected();
  row.plan_offered = c.plan_offered();
  return row;
}

absl::StatusOr<v1::FunnelResponse> QueryFunnel(const ProjectionEngine& engine, const v1::FunnelRequest& request) {
  ASSIGN_OR_RETURN(const Selection selection, ParseSelection(request));
  ASSIGN_OR_RETURN(const FunnelProjection* model, ModelOf<FunnelProjection>(engine));
  v1::FunnelResponse response;
  SetWatermark(engine, response.mutable_watermark());  // first: the cases read reflect at least this
  const auto tallies = TallyCohort<FunnelTally>(
      *model, selection, /*parameters=*/"",
      [&](auto& t, int64_t group, const FunnelRow& c, const auto&) { t.Add(selection, group, c); });
  RETURN_IF_ERROR(PublishGroups(tallies, selection, /*additive_rows=*/false, FunnelNesting(),
                                response.mutable_disclosure(), response.mutable_overall(), response.mutable_groups(),
                                [&](const FunnelTally& t, const Disclosed& d, size_t row, v1::FunnelGroup* out) {
                                  return Fill(t, selection, d, row, out);
                                }));
  if (!selection.compare_with.empty()) {
    const std::vector<std::string> labels = LabelsOf(response.groups());
    ASSIGN_OR_RETURN(const size_t reference, ReferenceGroup(labels, selection.compare_with));
    std::vector<std::vector<ComparedFigure>> figures;
    for (const v1::FunnelGroup& g : response.groups()) figures.push_back(FunnelFigures(g));
    *response.mutable_comparison() = Compare(labels, figures, reference);
  }
  ReportPerturbation(response.mutable_disclosure());
  response.set_definition(kFunnelDefinition);
  response.set_as_of_position(request.as_of_position());
  return response;
}

}  // namespace kring::projections
