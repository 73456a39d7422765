#include "projections/support.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "projections/comparison.h"
#include "projections/intervals.h"
#include "projections/research.h"
#include "projections/statistics.h"

namespace kring::projections {
namespace {

constexpr std::array<uint32_t, 3> kMonths = {6, 12, 24};
// A month is 30.44 days exactly, so the marks are 182.64, 365.28 and 730.56
// days. Distances to a mark are compared in hundredths of a day, in integers:
// exact, where a double 30.44 is not.
constexpr int64_t kHundredthsPerMonth = 3044;
constexpr uint32_t kDefaultWindowDays = 91;
constexpr uint32_t kMaxWindowDays = 180;
constexpr double kDefaultLapseThreshold = 0.8;
// The restricted mean survival time's horizon: 24 months, in whole days.
constexpr int64_t kRmstHorizonDays = 730;

void AddDistinct(google::protobuf::RepeatedField<uint64_t>* ids, uint64_t id) {
  if (!ContainsKey(*ids, id)) ids->Add(id);
}

// A member of the person's own network, judged when the event is folded:
// not a coordinator of the case so far and not (latest) invited with
// relation PROFESSIONAL. Ids never invited (central persons named in the
// referral) are members, as network size counts them.
bool OwnNetwork(const storage::SupportCase& c, uint64_t id) {
  if (ContainsKey(c.coordinators(), id)) return false;
  auto it = c.participants().find(id);
  return it == c.participants().end() || it->second != v1::RELATION_PROFESSIONAL;
}

// The derived fields: the support network's size and, per follow-up in day
// order (log order within a day), the network members it lists as active.
void Derive(storage::SupportCase& c) {
  const auto& network = c.action_owners_size() > 0 ? c.action_owners() : c.attendees();
  c.set_network(static_cast<uint32_t>(network.size()));
  std::vector<const storage::SupportFollowUp*> follow_ups;
  for (const auto& f : c.follow_ups()) follow_ups.push_back(&f);
  std::stable_sort(follow_ups.begin(), follow_ups.end(), [](auto* a, auto* b) { return a->day() < b->day(); });
  c.clear_follow_up_days();
  c.clear_still();
  if (network.empty()) return;
  for (const storage::SupportFollowUp* f : follow_ups) {
    // The write side refuses an id listed twice in one follow-up.
    uint32_t still = 0;
    for (uint64_t id : f->active()) still += ContainsKey(network, id);
    c.add_follow_up_days(f->day());
    c.add_still(still);
  }
}

struct Parameters {
  uint32_t window_days = kDefaultWindowDays;
  double threshold = kDefaultLapseThreshold;
  int32_t end_day = INT32_MAX;  // the data cut-off: follow-ups on later days are ignored
};

absl::StatusOr<Parameters> ParseParameters(const v1::SupportRequest& request) {
  Parameters p;
  if (request.window_days() != 0) p.window_days = request.window_days();
  if (p.window_days > kMaxWindowDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("window_days: must be at most ", kMaxWindowDays, " (half-width in days), got ", p.window_days));
  }
  if (request.lapse_threshold() != 0) p.threshold = request.lapse_threshold();
  if (!(p.threshold > 0 && p.threshold <= 1)) {
    return absl::InvalidArgumentError("lapse_threshold: must lie in (0, 1]");
  }
  if (!request.data_cutoff().empty()) {
    ASSIGN_OR_RETURN(p.end_day, ParseDay(request.data_cutoff(), "data_cutoff"));
  }
  return p;
}

// A retention still / network as one number: network (network + 1) / 2 +
// still (still ≤ network), small for the usual networks (DenseCounts keeps
// keys below 2^14 in an array: networks up to 180).
int64_t RetentionKey(uint32_t still, uint32_t network) {
  return static_cast<int64_t>(network) * (network + 1) / 2 + std::min(still, network);
}
std::pair<uint32_t, uint32_t> FromRetentionKey(int64_t key) {
  auto network = static_cast<int64_t>((std::sqrt(8.0 * static_cast<double>(key) + 1) - 1) / 2);
  while (network * (network + 1) / 2 > key) --network;
  while ((network + 1) * (network + 2) / 2 <= key) ++network;
  return {static_cast<uint32_t>(key - network * (network + 1) / 2), static_cast<uint32_t>(network)};
}

struct SupportTally {
  uint64_t cases = 0;
  std::array<uint64_t, kMonths.size()> retention_cases{};
  std::array<ExactSum, kMonths.size()> retention_sum{};  // exact: independent of the order of the cases
  // The retentions at each mark as a histogram of (still, network) pairs
  // (RetentionKey): the exact values behind the SD of mean_retention's t
  // interval, independent of the order of the cases.
  std::array<DenseCounts, kMonths.size()> retention_values{};
  DenseCounts lapses, censorings;  // cases by days to their lapse or censoring
  // Cell keys (cell_key.h): of the cases, of those with a retention at each
  // mark (also of their retention sum), and per day the sum mod 2^64 of the
  // record keys of the cases lapsing or censored on it (DenseCounts adds in
  // uint64_t, which wraps mod 2^64 as a cell key does).
  CellKey cases_key;
  std::array<CellKey, kMonths.size()> retention_keys{};
  DenseCounts lapse_keys, censoring_keys;

  // Adds a case of the population (InPopulation).
  void Add(const SupportRow& c, const Parameters& p) {
    const int32_t start = c.profile.conference_day;
    const uint64_t key = c.profile.record_key;
    ++cases;
    cases_key.Add(key);
    // Per mark: the distance of the nearest follow-up so far, in hundredths
    // of a day, and its retention.
    std::array<int64_t, kMonths.size()> best_distance;
    best_distance.fill(INT64_MAX);
    std::array<double, kMonths.size()> best{};
    std::array<uint32_t, kMonths.size()> best_still{};
    std::optional<int64_t> lapse;
    int64_t last = 0;
    for (const SupportRow::FollowUp& f : c.follow_ups) {
      if (f.day > p.end_day) break;
      const int64_t t = std::max(0, f.day - start);  // before the first conference: 0
      const double retention = c.Retention(f);
      last = t;
      if (!lapse && retention < p.threshold) lapse = t;
      for (size_t m = 0; m < kMonths.size(); ++m) {
        // |t - M| <= window exactly (no rounding of the distance). Strictly
        // nearer only: of several follow-ups on one day the first in log
        // order; two different days never tie (2M is not a whole number).
        const int64_t distance = std::abs(100 * t - kHundredthsPerMonth * kMonths[m]);
        if (distance <= 100 * int64_t{p.window_days} && distance < best_distance[m]) {
          best_distance[m] = distance;
          best[m] = retention;
          best_still[m] = f.still;
        }
      }
    }
    for (size_t m = 0; m < kMonths.size(); ++m) {
      if (best_distance[m] == INT64_MAX) continue;
      ++retention_cases[m];
      retention_keys[m].Add(key);
      retention_sum[m].Add(best[m]);
      retention_values[m].Add(RetentionKey(best_still[m], c.network));
    }
    if (lapse) {
      lapses.Add(*lapse);
      lapse_keys.Add(*lapse, key);
    } else {
      censorings.Add(last);
      censoring_keys.Add(last, key);
    }
  }

  void Merge(const SupportTally& o) {
    cases += o.cases;
    cases_key.Merge(o.cases_key);
    for (size_t m = 0; m < kMonths.size(); ++m) {
      retention_cases[m] += o.retention_cases[m];
      retention_sum[m].Merge(o.retention_sum[m]);
      retention_values[m].Merge(o.retention_values[m]);
      retention_keys[m].Merge(o.retention_keys[m]);
    }
    lapses.Merge(o.lapses);
    censorings.Merge(o.censorings);
    lapse_keys.Merge(o.lapse_keys);
    censoring_keys.Merge(o.censoring_keys);
  }
  std::map<int64_t, SurvivalCounts> Survival() const {
    std::map<int64_t, SurvivalCounts> out;
    for (const auto& [t, n] : lapses.ToMap()) out[t].events = n;
    for (const auto& [t, n] : censorings.ToMap()) out[t].censored = n;
    return out;
  }
  // The sample standard deviation of the exact retentions at mark m.
  std::optional<double> RetentionSd(size_t m) const {
    // Two passes over the distinct values, in key order: Σ n (x − mean)² with
    // the mean of the exact sum; exactly 0 when every retention is the same.
    const uint64_t n = retention_cases[m];
    if (n < 2) return std::nullopt;
    const double mean = retention_sum[m].Value() / static_cast<double>(n);
    long double squares = 0;
    for (const auto& [key, count] : retention_values[m].ToMap()) {
      const auto [still, network] = FromRetentionKey(key);
      const long double d = static_cast<long double>(static_cast<double>(still) / network) - mean;
      squares += static_cast<long double>(count) * d * d;
    }
    return static_cast<double>(std::sqrt(squares / static_cast<long double>(n - 1)));
  }
  uint64_t Total() const { return cases; }
  std::vector<uint64_t> Cells() const { return {retention_cases.begin(), retention_cases.end()}; }
};

// Whether a case belongs to the curve's population: a support network, a
// conference, and a follow-up by the data cut-off (the row holds only those
// recorded before an erasure).
bool InPopulation(const SupportRow& c, const Parameters& p) {
  if (c.network == 0 || !c.profile.has_conference() || c.follow_ups.empty()) return false;
  return c.follow_ups.front().day <= p.end_day;
}

// The published Kaplan–Meier table (cell_key.h, docs/research.md): the exact
// table's rows while at least k cases are at risk (a smaller risk set tells
// too much about the few families left in it), each with its counts
// perturbed by the cell keys of their cases — at risk as a count (floor k),
// events and censored with floor 1 (a day with a lapse keeps one), events at
// most the published at risk — and S and the band computed from the
// perturbed counts. `first_hidden_day`: the first row left off (INT64_MAX
// when none).
absl::StatusOr<KaplanMeierCurve> PublishedCurve(const SupportTally& t, uint64_t k, int64_t* first_hidden_day) {
  ASSIGN_OR_RETURN(const KaplanMeierCurve exact, KaplanMeierFromCounts(t.Survival()));
  const std::map<int64_t, uint64_t> lapse_keys = t.lapse_keys.ToMap(), censoring_keys = t.censoring_keys.ToMap();
  auto key_at = [](const std::map<int64_t, uint64_t>& keys, int64_t day) {
    auto it = keys.find(day);
    return it == keys.end() ? uint64_t{0} : it->second;
  };
  // The cell key of the cases at risk on each row's day: those lapsing or
  // censored on it or later.
  std::vector<uint64_t> at_risk_keys(exact.rows.size());
  uint64_t later = 0;
  for (size_t i = exact.rows.size(); i-- > 0;) {
    later += key_at(lapse_keys, exact.rows[i].days) + key_at(censoring_keys, exact.rows[i].days);
    at_risk_keys[i] = later;
  }
  *first_hidden_day = INT64_MAX;
  std::vector<KaplanMeierRow> rows;
  for (size_t i = 0; i < exact.rows.size(); ++i) {
    const KaplanMeierRow& r = exact.rows[i];
    if (r.at_risk < k) {
      *first_hidden_day = r.days;
      break;
    }
    KaplanMeierRow& p = rows.emplace_back();
    p.days = r.days;
    p.at_risk = PerturbCount(r.at_risk, at_risk_keys[i], k);
    p.events = std::min(p.at_risk, PerturbCount(r.events, key_at(lapse_keys, r.days), 1));
    p.censored = PerturbCount(r.censored, key_at(censoring_keys, r.days), 1);
  }
  return KaplanMeierFromRows(std::move(rows));
}

// Counts and the retention sums are published perturbed (cell_key.h), mean
// retention as the perturbed sum over the perturbed count.
absl::Status Fill(const SupportTally& t, const Disclosed& d, size_t row, const Selection& selection,
                  v1::SupportGroup* out) {
  out->set_suppression(ToProto(d.total(row)));
  for (size_t m = 0; m < kMonths.size(); ++m) {
    v1::RetentionFigure* f = out->add_retention();
    f->set_months(kMonths[m]);
    f->set_suppression(ToProto(d.cell(row, m)));
    if (d.cell(row, m) != Suppression::kNone) continue;
    const uint64_t cases = PublishedCount(t.retention_cases[m], t.retention_keys[m], selection);
    f->set_cases(cases);
    if (cases > 0) {
      f->set_mean_retention(PerturbSum(t.retention_sum[m].Value(), t.retention_cases[m], t.retention_keys[m].sum) /
                            cases);
      SetMeanInterval(f->mean_retention(), t.RetentionSd(m), static_cast<double>(cases),
                      f->mutable_mean_retention_ci());
    }
  }
  if (d.total(row) != Suppression::kNone) return absl::OkStatus();
  out->set_cases(PublishedCount(t.cases, t.cases_key, selection));
  int64_t first_hidden_day = INT64_MAX;
  ASSIGN_OR_RETURN(const KaplanMeierCurve curve,
                   PublishedCurve(t, selection.disclosure.min_cell_size, &first_hidden_day));
  if (first_hidden_day != INT64_MAX) out->set_curve_truncated(true);
  std::vector<KaplanMeierRow> rows = curve.rows;
  if (rows.empty() || rows.front().days > 0) {
    // The curve starts at day 0 with S = 1, all published cases at risk.
    KaplanMeierRow start;
    start.days = 0;
    start.at_risk = out->cases();
    rows.insert(rows.begin(), start);
  }
  for (const KaplanMeierRow& r : rows) {
    v1::SurvivalRow* s = out->add_curve();
    s->set_day(static_cast<uint32_t>(r.days));
    s->set_at_risk(r.at_risk);
    s->set_events(r.events);
    s->set_censored(r.censored);
    s->set_survival(r.survival);
    s->set_lower_95(r.lower);
    s->set_upper_95(r.upper);
  }
  // S(t) is published where the published rows determine it.
  auto publishable = [&](int64_t day) { return day < first_hidden_day; };
  const KaplanMeierCurve published{rows};
  auto band = [&](int64_t day, v1::ConfidenceInterval* ci) {
    const std::optional<KaplanMeierRow> r = RowAt(published, day);
    SetInterval({r->lower, r->upper}, ci);
  };
  if (publishable(365)) {
    out->set_survival_12m(SurvivalAt(published, 365));
    band(365, out->mutable_survival_12m_ci());
  }
  if (publishable(730)) {
    out->set_survival_24m(SurvivalAt(published, 730));
    band(730, out->mutable_survival_24m_ci());
  }
  if (!out->curve_truncated() || rows.back().days >= kRmstHorizonDays) {
    const RestrictedMean rmst = RestrictedMeanSurvival(rows, kRmstHorizonDays);
    out->set_rmst_24m_days(rmst.days);
    SetInterval(NormalInterval(rmst.days, rmst.variance), out->mutable_rmst_24m_ci());
  }
  return absl::OkStatus();
}

// The published table of a group, as statistics.h's rows.
std::vector<KaplanMeierRow> RowsOf(const v1::SupportGroup& g) {
  std::vector<KaplanMeierRow> rows;
  for (const v1::SurvivalRow& s : g.curve()) {
    KaplanMeierRow& r = rows.emplace_back();
    r.days = s.day();
    r.at_risk = s.at_risk();
    r.events = s.events();
    r.censored = s.censored();
    r.survival = s.survival();
    r.lower = s.lower_95();
    r.upper = s.upper_95();
  }
  return rows;
}

// What a comparison compares of a support group: mean retention at each mark
// (Welch: the exact retentions' SD, the published count), survival at 12 and
// 24 months (normal: Greenwood variances of the published table) and the
// RMST (normal: its variance).
std::vector<ComparedFigure> SupportFigures(const SupportTally& t, const v1::SupportGroup& g) {
  std::vector<ComparedFigure> out;
  for (size_t m = 0; m < kMonths.size() && m < static_cast<size_t>(g.retention_size()); ++m) {
    const v1::RetentionFigure& r = g.retention(static_cast<int>(m));
    ComparedFigure f;
    f.measure = "mean_retention";
    f.item = std::to_string(kMonths[m]);
    f.kind = ComparedFigure::Kind::kMean;
    f.present = r.has_mean_retention();
    f.estimate = r.mean_retention();
    f.n = static_cast<double>(r.cases());
    const std::optional<double> sd = t.RetentionSd(m);
    f.sd_known = sd.has_value();
    f.sd = sd.value_or(0);
    out.push_back(f);
  }
  const std::vector<KaplanMeierRow> rows = RowsOf(g);
  auto normal = [&](const char* measure, bool present, double estimate, double variance) {
    ComparedFigure f;
    f.measure = measure;
    f.kind = ComparedFigure::Kind::kNormal;
    f.present = present;
    f.estimate = estimate;
    f.variance = variance;
    out.push_back(f);
  };
  normal("survival_12m", g.has_survival_12m(), g.survival_12m(), GreenwoodVariance(rows, 365));
  normal("survival_24m", g.has_survival_24m(), g.survival_24m(), GreenwoodVariance(rows, 730));
  normal("rmst_24m_days", g.has_rmst_24m_days(), g.rmst_24m_days(),
         RestrictedMeanSurvival(rows, kRmstHorizonDays).variance);
  return out;
}

// The log-rank test of the groups `members` (indices into tallies and
// groups) on their exact observations, published only when every group's
// `cases` is.
v1::LogRankTest LogRankOf(const std::vector<const SupportTally*>& tallies,
                          const google::protobuf::RepeatedPtrField<v1::SupportGroup>& groups,
                          const std::vector<size_t>& members) {
  v1::LogRankTest out;
  std::vector<std::map<int64_t, SurvivalCounts>> observations;
  bool all_published = true;
  for (size_t i : members) {
    out.add_groups(LabelOf(groups[static_cast<int>(i)]));
    all_published = all_published && groups[static_cast<int>(i)].has_cases();
    observations.push_back(tallies[i]->Survival());
  }
  out.set_degrees_of_freedom(members.empty() ? 0 : static_cast<uint32_t>(members.size() - 1));
  if (members.size() < 2) {
    out.set_absent_reason("fewer than two groups");
    return out;
  }
  if (!all_published) {
    out.set_absent_reason("a group's cases are suppressed (fewer than k)");
    return out;
  }
  const absl::StatusOr<LogRankResult> test = LogRank(observations);
  if (!test.ok()) {
    out.set_absent_reason("no lapse while the groups are followed");
    return out;
  }
  out.set_chi_square(test->chi_square);
  out.set_p_value(test->p_value);
  return out;
}

}  // namespace

const char kSupportDefinition[] =
    "sustained support = own network of a case: ids that are not its coordinator and not invited with relation "
    "PROFESSIONAL, judged at each event; its support network: those who own an action (owner kind not PROFESSIONAL) "
    "of an adopted plan, or, when the plans name none, all own-network attendees of every conference, invited or "
    "not. Retention at a follow-up = distinct network members it reports as still active / network size, one "
    "division in double. Time t = UTC day of the follow-up - UTC day of the first conference (0 if earlier). "
    "Observation: follow-ups recorded in the log after the case's PersonalDataErased and those dated after "
    "data_cutoff are ignored; closure does not end it. Population: cases with a conference, a support network and an "
    "observed follow-up. Retention at 6, 12 and 24 months of 30.44 days (182.64, 365.28, 730.56 days): per case the "
    "follow-up with the smallest |t - mark| <= window_days (default 91), exactly, the first in log order on one day; "
    "mean = (exact sum of those retentions, rounded once to double) / cases with one, in double. Kaplan-Meier of "
    "'support held': event = the first follow-up with retention < lapse_threshold (default 0.8); without one a case "
    "is censored at its last observed follow-up. Greenwood variance, 95% band by the log(-log) transform; rows only "
    "while at least k cases are at risk. Cohort and grouping by year or quarter: the referral date. Retracted events "
    "count as never recorded.";

bool SupportProjection::Relevant(const v1::Event& e) const {
  return e.has_case_referred() || e.has_conference_held() || e.has_participant_invited() ||
         e.has_coordinator_assigned() || e.has_plan_adopted() || e.has_follow_up_recorded() ||
         e.has_personal_data_erased();
}

absl::Status SupportProjection::Fold(const v1::RecordedEvent& event, storage::SupportCase& c) {
  FoldProfile(event, *c.mutable_profile());
  const v1::Event& e = event.event();
  switch (e.payload_case()) {
    case v1::Event::kParticipantInvited:
      (*c.mutable_participants())[ParticipantKey(e.participant_invited().participant_id())] =
          e.participant_invited().relation();
      break;
    case v1::Event::kCoordinatorAssigned:
      AddDistinct(c.mutable_coordinators(), ParticipantKey(e.coordinator_assigned().coordinator_id()));
      break;
    case v1::Event::kConferenceHeld:
      for (const std::string& id : e.conference_held().attendee_ids()) {
        if (OwnNetwork(c, ParticipantKey(id))) AddDistinct(c.mutable_attendees(), ParticipantKey(id));
      }
      break;
    case v1::Event::kPlanAdopted:
      for (const v1::PlanAction& a : e.plan_adopted().actions()) {
        if (a.owner_kind() != v1::ACTION_OWNER_KIND_PROFESSIONAL && OwnNetwork(c, ParticipantKey(a.owner_id()))) {
          AddDistinct(c.mutable_action_owners(), ParticipantKey(a.owner_id()));
        }
      }
      break;
    case v1::Event::kFollowUpRecorded: {
      // Recorded after the erasure: the family withdrew from processing.
      if (c.erased()) break;
      storage::SupportFollowUp* f = c.add_follow_ups();
      f->set_day(DayOf(e.occurred_at()));
      for (const std::string& id : e.follow_up_recorded().active_supporter_ids()) f->add_active(ParticipantKey(id));
      break;
    }
    case v1::Event::kPersonalDataErased:
      c.set_erased(true);
      break;
    default:
      break;
  }
  Derive(c);
  return absl::OkStatus();
}

SupportRow SupportProjection::MakeRow(const storage::SupportCase& c) const {
  SupportRow row;
  row.profile = ToRow(c.profile());
  row.network = c.network();
  for (int i = 0; i < std::min(c.follow_up_days_size(), c.still_size()); ++i) {
    row.follow_ups.push_back({c.follow_up_days(i), c.still(i)});
  }
  return row;
}

absl::StatusOr<v1::SupportResponse> QuerySupport(const ProjectionEngine& engine, const v1::SupportRequest& request) {
  ASSIGN_OR_RETURN(const Selection selection, ParseSelection(request));
  ASSIGN_OR_RETURN(const Parameters parameters, ParseParameters(request));
  ASSIGN_OR_RETURN(const SupportProjection* model, ModelOf<SupportProjection>(engine));
  v1::SupportResponse response;
  SetWatermark(engine, response.mutable_watermark());  // first: the cases read reflect at least this
  // What a case adds depends on the window, the threshold and the cut-off.
  const std::string cell_parameters = absl::StrFormat("window=%u threshold=%a end=%d", parameters.window_days,
                                                      parameters.threshold, parameters.end_day);
  const auto tallies = TallyCohort<SupportTally>(*model, selection, cell_parameters,
                                                 [&](auto& t, int64_t group, const SupportRow& c, const auto&) {
                                                   if (InPopulation(c, parameters))
                                                     t.Add(selection, group, c, parameters);
                                                 });
  // The cases with a follow-up near each mark are some of the group's cases.
  const std::vector<Nested> nested = {{Nested::kTotal, 0}, {Nested::kTotal, 1}, {Nested::kTotal, 2}};
  RETURN_IF_ERROR(PublishGroups(tallies, selection, /*additive_rows=*/false, nested, response.mutable_disclosure(),
                                response.mutable_overall(), response.mutable_groups(),
                                [&](const SupportTally& t, const Disclosed& d, size_t row, v1::SupportGroup* out) {
                                  return Fill(t, d, row, selection, out);
                                }));
  if (!selection.compare_with.empty()) {
    const std::vector<std::string> labels = LabelsOf(response.groups());
    ASSIGN_OR_RETURN(const size_t reference, ReferenceGroup(labels, selection.compare_with));
    std::vector<const SupportTally*> group_tallies;
    std::vector<std::vector<ComparedFigure>> figures;
    for (const auto& [key, tally] : tallies.Groups()) {
      figures.push_back(SupportFigures(*tally, response.groups(static_cast<int>(group_tallies.size()))));
      group_tallies.push_back(tally);
    }
    v1::Comparison* comparison = response.mutable_comparison();
    *comparison = Compare(labels, figures, reference);
    std::vector<size_t> all;
    for (size_t g = 0, c = 0; g < labels.size(); ++g) {
      all.push_back(g);
      if (g == reference) continue;
      *comparison->mutable_groups(static_cast<int>(c++))->mutable_log_rank() =
          LogRankOf(group_tallies, response.groups(), {g, reference});
    }
    *comparison->mutable_log_rank_all() = LogRankOf(group_tallies, response.groups(), all);
  }
  ReportPerturbation(response.mutable_disclosure());
  response.set_definition(kSupportDefinition);
  response.set_as_of_position(request.as_of_position());
  return response;
}

}  // namespace kring::projections
