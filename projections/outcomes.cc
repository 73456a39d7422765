#include "projections/outcomes.h"

#include <google/protobuf/util/json_util.h>

#include <array>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "projections/comparison.h"
#include "projections/research.h"

namespace kring::projections {

extern const char kBuiltInCostModelJson[];  // generated from cost_model.json

namespace {

constexpr int kOutcomeTypes = v1::OutcomeType_ARRAYSIZE;  // index 0 unused

bool IsConferenceCost(v1::CostKind kind) {
  return kind == v1::COST_KIND_CONFERENCE || kind == v1::COST_KIND_COORDINATOR_HOURS ||
         kind == v1::COST_KIND_INTERPRETER;
}

// Calls fn(type) for each outcome type the case has (bit 0 is never set).
template <typename Fn>
void ForEachOutcome(const OutcomeRow& c, Fn&& fn) {
  for (uint32_t bits = c.outcomes; bits != 0; bits &= bits - 1) fn(__builtin_ctz(bits));
}

uint64_t Children(const storage::OutcomeCase& c, int type) { return type < c.children_size() ? c.children(type) : 0; }
uint64_t Children(const OutcomeRow& row, const storage::OutcomeCase& c, int type) {
  return row.children_in_state ? Children(c, type) : row.children[type];
}

// ---------------------------------------------------------------------------
// Outcomes

struct OutcomeTally {
  uint64_t referred = 0;
  uint64_t conferences = 0;
  std::array<uint64_t, kOutcomeTypes> referred_cases{};
  std::array<uint64_t, kOutcomeTypes> conference_cases{};
  // The cell keys of the counts above (cell_key.h).
  CellKey referred_key, conferences_key;
  std::array<CellKey, kOutcomeTypes> referred_keys{}, conference_keys{};

  void Add(const OutcomeRow& c) {
    const uint64_t key = c.profile.record_key;
    ++referred;
    referred_key.Add(key);
    const bool conference = c.profile.has_conference();
    conferences += conference;
    if (conference) conferences_key.Add(key);
    ForEachOutcome(c, [&](int t) {
      ++referred_cases[t];
      referred_keys[t].Add(key);
      if (conference) {
        ++conference_cases[t];
        conference_keys[t].Add(key);
      }
    });
  }
  void Merge(const OutcomeTally& o) {
    referred += o.referred;
    conferences += o.conferences;
    referred_key.Merge(o.referred_key);
    conferences_key.Merge(o.conferences_key);
    for (int t = 0; t < kOutcomeTypes; ++t) {
      referred_cases[t] += o.referred_cases[t];
      conference_cases[t] += o.conference_cases[t];
      referred_keys[t].Merge(o.referred_keys[t]);
      conference_keys[t].Merge(o.conference_keys[t]);
    }
  }
  uint64_t Total() const { return referred; }
  // Columns for disclosure control: conferences, then per outcome type its
  // referred and conference cases.
  std::vector<uint64_t> Cells() const {
    std::vector<uint64_t> cells{conferences};
    for (int t = 1; t < kOutcomeTypes; ++t) {
      cells.push_back(referred_cases[t]);
      cells.push_back(conference_cases[t]);
    }
    return cells;
  }
};

// Within a group: the conference cases in the referred ones; an outcome's
// conference cases in its referred cases and in the conference cases.
const std::vector<Nested>& OutcomeNesting() {
  static const std::vector<Nested> nested = [] {
    std::vector<Nested> n = {{Nested::kTotal, 0}};
    for (size_t t = 1; t < kOutcomeTypes; ++t) {
      const size_t referred = 1 + 2 * (t - 1), conference = referred + 1;
      n.push_back({Nested::kTotal, referred});
      n.push_back({Nested::kTotal, conference});
      n.push_back({referred, conference});
      n.push_back({0, conference});
    }
    return n;
  }();
  return nested;
}

// Counts are published perturbed (cell_key.h), rates from the perturbed
// counts.
absl::Status FillOutcomeGroup(const OutcomeTally& tally, const Selection& selection, const Disclosed& d, size_t row,
                              v1::OutcomeGroup* out) {
  const bool referred_ok = d.total(row) == Suppression::kNone;
  const bool conferences_ok = d.cell(row, 0) == Suppression::kNone;
  const uint64_t referred = PublishedCount(tally.referred, tally.referred_key, selection);
  const uint64_t conferences = PublishedCount(tally.conferences, tally.conferences_key, selection);
  if (referred_ok) out->set_referred(referred);
  out->set_referred_suppression(ToProto(d.total(row)));
  if (conferences_ok) out->set_conferences(conferences);
  out->set_conferences_suppression(ToProto(d.cell(row, 0)));
  for (int t = 1; t < kOutcomeTypes; ++t) {
    v1::OutcomeFigure* f = out->add_outcomes();
    f->set_outcome(static_cast<v1::OutcomeType>(t));
    const Suppression rs = d.cell(row, 1 + 2 * (t - 1)), cs = d.cell(row, 2 + 2 * (t - 1));
    f->set_referred_suppression(ToProto(rs));
    f->set_conference_suppression(ToProto(cs));
    if (rs == Suppression::kNone) {
      const uint64_t cases = PublishedCount(tally.referred_cases[t], tally.referred_keys[t], selection);
      f->set_referred_cases(cases);
      if (referred_ok && referred > 0) {
        f->set_per_100_referrals(100.0 * cases / referred);
        SetWilson(cases, referred, 100, f->mutable_per_100_referrals_ci());
      }
    }
    if (cs == Suppression::kNone) {
      const uint64_t cases = PublishedCount(tally.conference_cases[t], tally.conference_keys[t], selection);
      f->set_conference_cases(cases);
      if (conferences_ok && conferences > 0) {
        f->set_per_100_conferences(100.0 * cases / conferences);
        SetWilson(cases, conferences, 100, f->mutable_per_100_conferences_ci());
      }
    }
  }
  return absl::OkStatus();
}

// What a comparison compares of an outcomes group: per outcome type its rates
// per 100 referrals and per 100 conferences.
std::vector<ComparedFigure> OutcomeFigures(const v1::OutcomeGroup& g) {
  std::vector<ComparedFigure> out;
  for (const v1::OutcomeFigure& f : g.outcomes()) {
    const std::string item = v1::OutcomeType_Name(f.outcome());
    out.push_back(Proportion("per_100_referrals", item, f.has_per_100_referrals(), f.referred_cases(), g.referred(),
                             100, f.per_100_referrals()));
    out.push_back(Proportion("per_100_conferences", item, f.has_per_100_conferences(), f.conference_cases(),
                             g.conferences(), 100, f.per_100_conferences()));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Cost–benefit

// The cost table's columns: 0 the cases with a recorded conference cost,
// 1..kOutcomeTypes-1 the cases with each outcome type, then the conference
// cases of each domain (kDomainColumn + domain; they partition the cases).
constexpr size_t kDomainColumn = kOutcomeTypes;
constexpr int kDomains = v1::Domain_ARRAYSIZE;

struct CostTally {
  uint64_t conferences = 0;
  uint64_t with_recorded_cost = 0;
  int64_t conference_costs = 0;
  std::array<uint64_t, kOutcomeTypes> cases{};
  std::array<uint64_t, kOutcomeTypes> units{};
  std::array<uint64_t, kDomains> domain_cases{};
  // Cell keys (cell_key.h): of the conference cases (also of their costs), of
  // those with a recorded cost, of those with each outcome (also of its
  // units), of the conference cases of each domain.
  CellKey conferences_key, recorded_key;
  std::array<CellKey, kOutcomeTypes> case_keys{};
  std::array<CellKey, kDomains> domain_keys{};

  void Add(const OutcomeRow& c, const storage::OutcomeCase& state, const v1::CostModel& model,
           const std::array<bool, kOutcomeTypes>& per_child, const std::array<int64_t, kDomains>& by_domain) {
    if (!c.profile.has_conference()) return;
    const uint64_t key = c.profile.record_key;
    ++conferences;
    conferences_key.Add(key);
    if (c.conference_cost_recorded) {
      ++with_recorded_cost;
      recorded_key.Add(key);
      conference_costs += c.conference_cost_cents;
    } else {
      conference_costs += model.conference_cost_cents();
    }
    if (c.profile.domain < by_domain.size()) {
      ++domain_cases[c.profile.domain];
      domain_keys[c.profile.domain].Add(key);
    }
    ForEachOutcome(c, [&](int t) {
      ++cases[t];
      case_keys[t].Add(key);
      units[t] += per_child[t] ? std::max<uint64_t>(1, Children(c, state, t)) : 1;
    });
  }
  void Merge(const CostTally& o) {
    conferences += o.conferences;
    with_recorded_cost += o.with_recorded_cost;
    conference_costs += o.conference_costs;
    conferences_key.Merge(o.conferences_key);
    recorded_key.Merge(o.recorded_key);
    for (int t = 0; t < kOutcomeTypes; ++t) {
      cases[t] += o.cases[t];
      units[t] += o.units[t];
      case_keys[t].Merge(o.case_keys[t]);
    }
    for (int d = 0; d < kDomains; ++d) {
      domain_cases[d] += o.domain_cases[d];
      domain_keys[d].Merge(o.domain_keys[d]);
    }
  }
  uint64_t Total() const { return conferences; }
  std::vector<uint64_t> Cells() const {
    std::vector<uint64_t> cells{with_recorded_cost};
    for (int t = 1; t < kOutcomeTypes; ++t) cells.push_back(cases[t]);
    cells.insert(cells.end(), domain_cases.begin(), domain_cases.end());
    return cells;
  }
};

// Within a group: every column's cases are some of the conference cases.
const std::vector<Nested>& CostNesting() {
  static const std::vector<Nested> nested = [] {
    std::vector<Nested> n;
    for (size_t col = 0; col < kDomainColumn + kDomains; ++col) n.push_back({Nested::kTotal, col});
    return n;
  }();
  return nested;
}

// What cost–benefit publishes besides its counts, for the audit: every amount
// is a count times a price of the model, so an amount is published only with
// its count (a line with its cases, the domain savings with the conference
// cases of each priced domain), and the counts no amount publishes (outcomes
// the model does not price, domains without a domain saving) are hidden
// columns whose relations are still known: the domains partition the
// conference cases. The sums: the children of each per-child line (its
// `units`), and the conference costs (published with the conferences: the
// model's cost per case without a recorded one, plus the recorded ones).
// Gross and net add nothing: they are published only when every line and the
// domain savings are, and the conferences for net.
struct CostRelations {
  std::vector<int> per_child;  // outcome types with a per-child saving, by sum column
  Relations relations;

  CostRelations(const v1::CostModel& model, const std::array<int64_t, kDomains>& by_domain) {
    relations.hidden_cols.assign(kDomainColumn + kDomains, true);
    relations.hidden_cols[0] = false;  // conferences_with_recorded_cost
    for (const v1::OutcomeSaving& s : model.savings()) {
      relations.hidden_cols[s.outcome()] = false;
      if (s.per_child()) {
        per_child.push_back(s.outcome());
        relations.sums.push_back({static_cast<size_t>(s.outcome()), true});
      }
    }
    for (int d = 0; d < kDomains; ++d) relations.hidden_cols[kDomainColumn + d] = by_domain[d] == 0;
    relations.sums.push_back({Nested::kTotal, true});  // conference costs
  }

  RowSums Row(const CostTally& t) const {
    RowSums out;
    for (int type : per_child) out.values.push_back(static_cast<int64_t>(t.units[type]));
    out.values.push_back(t.conference_costs);
    RowEquation domains{{{RowTerm::Kind::kCount, Nested::kTotal, -1}}, 0};
    for (int d = 0; d < kDomains; ++d) domains.terms.push_back({RowTerm::Kind::kCount, kDomainColumn + d, 1});
    out.equations.push_back(std::move(domains));
    return out;
  }
};

// The suppression to show for a figure made of several counts: primary if
// any is primary, else secondary if any is, else none.
Suppression Worst(Suppression a, Suppression b) {
  if (a == Suppression::kPrimary || b == Suppression::kPrimary) return Suppression::kPrimary;
  if (a == Suppression::kSecondary || b == Suppression::kSecondary) return Suppression::kSecondary;
  return Suppression::kNone;
}

// Published perturbed (cell_key.h): the counts; the conference costs as a
// sum over the conference cases; a line's units as its perturbed cases, or
// for a per-child saving as the sum of its children over its cases; amounts
// as published units times the model's saving, the domain savings as each
// priced domain's published conference cases times its saving; gross, net
// and net per conference from those.
absl::Status FillCostGroup(const CostTally& tally, const v1::CostModel& model,
                           const std::array<int64_t, kDomains>& by_domain, const Selection& selection,
                           const Disclosed& d, size_t row, v1::CostBenefitGroup* out) {
  const bool conferences_ok = d.total(row) == Suppression::kNone;
  out->set_conferences_suppression(ToProto(d.total(row)));
  out->set_conferences_with_recorded_cost_suppression(ToProto(d.cell(row, 0)));
  if (d.cell(row, 0) == Suppression::kNone) {
    out->set_conferences_with_recorded_cost(PublishedCount(tally.with_recorded_cost, tally.recorded_key, selection));
  }
  const uint64_t conferences = PublishedCount(tally.conferences, tally.conferences_key, selection);
  const int64_t conference_costs =
      PerturbIntegerSum(tally.conference_costs, tally.conferences, tally.conferences_key.sum);
  int64_t domain_savings = 0;
  for (int dom = 0; dom < kDomains; ++dom) {
    if (by_domain[dom] == 0) continue;
    domain_savings += static_cast<int64_t>(PublishedCount(tally.domain_cases[dom], tally.domain_keys[dom], selection)) *
                      by_domain[dom];
  }
  // A sum over lines is published only when every line of the row is: it
  // would otherwise give away the suppressed line's savings, and so its count.
  bool all_lines = true;
  int64_t gross = domain_savings;
  for (const v1::OutcomeSaving& saving : model.savings()) {
    const int t = saving.outcome();
    v1::SavingLine* line = out->add_lines();
    line->set_outcome(saving.outcome());
    const Suppression s = d.cell(row, t);
    line->set_suppression(ToProto(s));
    if (s != Suppression::kNone) {
      all_lines = false;
      continue;
    }
    const uint64_t cases = PublishedCount(tally.cases[t], tally.case_keys[t], selection);
    const int64_t units = saving.per_child() ? PerturbIntegerSum(static_cast<int64_t>(tally.units[t]), tally.cases[t],
                                                                 tally.case_keys[t].sum)
                                             : static_cast<int64_t>(cases);
    const int64_t amount = units * saving.amount_cents();
    gross += amount;
    line->set_cases(cases);
    line->set_units(static_cast<uint64_t>(units));
    line->set_savings_cents(amount);
  }
  // The domain savings divided by a domain's saving give its conference cases:
  // published only when every priced domain's count is.
  Suppression domains = Suppression::kNone;
  for (int dom = 0; dom < kDomains; ++dom) {
    if (by_domain[dom] != 0) domains = Worst(domains, d.cell(row, kDomainColumn + dom));
  }
  out->set_domain_savings_suppression(ToProto(domains));
  if (domains == Suppression::kNone) out->set_domain_savings_cents(domain_savings);
  if (conferences_ok) {
    out->set_conferences(conferences);
    out->set_conference_costs_cents(conference_costs);
  }
  if (!all_lines || domains != Suppression::kNone) return absl::OkStatus();
  out->set_gross_savings_cents(gross);
  if (!conferences_ok) return absl::OkStatus();
  out->set_net_savings_cents(gross - conference_costs);
  if (conferences > 0) {
    out->set_net_savings_per_conference_cents((gross - conference_costs) / static_cast<int64_t>(conferences));
  }
  return absl::OkStatus();
}

}  // namespace

const char kOutcomesDefinition[] =
    "outcomes = per outcome type, the referred cases with at least one OutcomeRecorded of that type (intention to "
    "treat: every referral of the cohort counts, with or without a conference; per 100 referrals), and of those the "
    "cases with a held conference (completers; per 100 conferences = cases with a conference). Cohort and grouping "
    "by year or quarter: the referral date. Retracted events count as never recorded.";

const char kCostBenefitDefinition[] =
    "cost-benefit = over the cases with a held conference: savings = per outcome type in the cost model, the cases "
    "with that outcome (or, for per-child savings, the children affected, at least 1 per case) times the model's "
    "first-year saving, plus the model's domain savings per conference case of that domain; conference costs = the "
    "case's recorded CostRecorded of kind CONFERENCE, COORDINATOR_HOURS and INTERPRETER where it has any, the "
    "model's conference cost otherwise; net = gross savings - conference costs. An amount is published only with the "
    "count it multiplies: a line with its cases, the domain savings with the conference cases of every domain that "
    "has a domain saving, gross when every line and the domain savings are, net when gross and the conference cases "
    "are.";

bool OutcomesProjection::Relevant(const v1::Event& e) const {
  return e.has_case_referred() || e.has_conference_held() || e.has_outcome_recorded() || e.has_cost_recorded();
}

absl::Status OutcomesProjection::Fold(const v1::RecordedEvent& event, storage::OutcomeCase& c) {
  FoldProfile(event, *c.mutable_profile());
  const v1::Event& e = event.event();
  if (e.has_outcome_recorded()) {
    const int t = e.outcome_recorded().outcome();
    if (t <= 0 || t >= kOutcomeTypes) return absl::OkStatus();  // validated on append; newer types are skipped
    c.set_outcomes(c.outcomes() | (1u << t));
    while (c.children_size() <= t) c.add_children(0);
    c.set_children(t, c.children(t) + e.outcome_recorded().children_affected());
  } else if (e.has_cost_recorded() && IsConferenceCost(e.cost_recorded().kind())) {
    c.set_conference_cost_recorded(true);
    c.set_conference_cost_cents(c.conference_cost_cents() + e.cost_recorded().amount_cents());
  }
  return absl::OkStatus();
}

OutcomeRow OutcomesProjection::MakeRow(const storage::OutcomeCase& c) const {
  OutcomeRow row;
  row.profile = ToRow(c.profile());
  row.outcomes = c.outcomes();
  row.conference_cost_recorded = c.conference_cost_recorded();
  row.conference_cost_cents = c.conference_cost_cents();
  for (int t = 0; t < std::min(kOutcomeTypes, c.children_size()); ++t) {
    if (c.children(t) > UINT8_MAX) row.children_in_state = true;
    row.children[t] = static_cast<uint8_t>(std::min<uint32_t>(c.children(t), UINT8_MAX));
  }
  return row;
}

absl::StatusOr<v1::OutcomesResponse> QueryOutcomes(const ProjectionEngine& engine, const v1::OutcomesRequest& request) {
  ASSIGN_OR_RETURN(const Selection selection, ParseSelection(request));
  ASSIGN_OR_RETURN(const OutcomesProjection* outcomes, ModelOf<OutcomesProjection>(engine));
  v1::OutcomesResponse response;
  SetWatermark(engine, response.mutable_watermark());  // first: the cases read reflect at least this
  const auto tallies = TallyCohort<OutcomeTally>(
      *outcomes, selection, /*parameters=*/"",
      [&](auto& t, int64_t group, const OutcomeRow& c, const auto&) { t.Add(selection, group, c); });
  RETURN_IF_ERROR(PublishGroups(tallies, selection, /*additive_rows=*/false, OutcomeNesting(),
                                response.mutable_disclosure(), response.mutable_overall(), response.mutable_groups(),
                                [&](const OutcomeTally& t, const Disclosed& d, size_t row, v1::OutcomeGroup* out) {
                                  return FillOutcomeGroup(t, selection, d, row, out);
                                }));
  if (!selection.compare_with.empty()) {
    const std::vector<std::string> labels = LabelsOf(response.groups());
    ASSIGN_OR_RETURN(const size_t reference, ReferenceGroup(labels, selection.compare_with));
    std::vector<std::vector<ComparedFigure>> figures;
    for (const v1::OutcomeGroup& g : response.groups()) figures.push_back(OutcomeFigures(g));
    *response.mutable_comparison() = Compare(labels, figures, reference);
  }
  ReportPerturbation(response.mutable_disclosure());
  response.set_definition(kOutcomesDefinition);
  response.set_as_of_position(request.as_of_position());
  return response;
}

absl::StatusOr<v1::CostBenefitResponse> QueryCostBenefit(const ProjectionEngine& engine,
                                                         const v1::CostBenefitRequest& request) {
  ASSIGN_OR_RETURN(const Selection selection, ParseSelection(request));
  ASSIGN_OR_RETURN(const OutcomesProjection* outcomes, ModelOf<OutcomesProjection>(engine));
  const v1::CostModel& model = request.has_cost_model() ? request.cost_model() : BuiltInCostModel();
  if (request.has_cost_model()) RETURN_IF_ERROR(ValidateCostModel(model, "cost_model"));
  std::array<bool, kOutcomeTypes> per_child{};
  for (const auto& s : model.savings()) per_child[s.outcome()] = s.per_child();
  std::array<int64_t, kDomains> by_domain{};  // validated: known domains, each once
  for (const auto& s : model.domain_savings()) by_domain[s.domain()] = s.amount_cents();

  v1::CostBenefitResponse response;
  SetWatermark(engine, response.mutable_watermark());
  // What a case adds depends on the cost model (all of it, to be safe).
  const std::string parameters = "cost_model=" + model.SerializeAsString();
  const auto tallies =
      TallyCohort<CostTally>(*outcomes, selection, parameters,
                             [&](auto& t, int64_t group, const OutcomeRow& c, const storage::OutcomeCase& state) {
                               // The population is the cases with a conference: a group without one
                               // is not listed (docs/research.md, group_by).
                               if (c.profile.has_conference())
                                 t.Add(selection, group, c, state, model, per_child, by_domain);
                             });
  CostRelations relations(model, by_domain);
  if (selection.grouped()) {
    for (const auto& [key, tally] : tallies.Groups()) relations.relations.groups.push_back(relations.Row(*tally));
  }
  relations.relations.overall = relations.Row(tallies.Overall());
  RETURN_IF_ERROR(PublishGroups(
      tallies, selection, /*additive_rows=*/false, CostNesting(), response.mutable_disclosure(),
      response.mutable_overall(), response.mutable_groups(),
      [&](const CostTally& t, const Disclosed& d, size_t row, v1::CostBenefitGroup* out) {
        return FillCostGroup(t, model, by_domain, selection, d, row, out);
      },
      &relations.relations));
  if (!selection.compare_with.empty()) {
    // Cost-benefit compares no figure (docs/research.md, "Comparisons"): its
    // amounts are counts times the model's prices; the groups are listed.
    const std::vector<std::string> labels = LabelsOf(response.groups());
    ASSIGN_OR_RETURN(const size_t reference, ReferenceGroup(labels, selection.compare_with));
    *response.mutable_comparison() =
        Compare(labels, std::vector<std::vector<ComparedFigure>>(labels.size()), reference);
  }
  ReportPerturbation(response.mutable_disclosure());
  *response.mutable_cost_model() = model;
  response.set_definition(kCostBenefitDefinition);
  response.set_as_of_position(request.as_of_position());
  return response;
}

const v1::CostModel& BuiltInCostModel() {
  static const v1::CostModel* model = [] {
    auto* m = new v1::CostModel();
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // "note"
    const auto status = google::protobuf::util::JsonStringToMessage(kBuiltInCostModelJson, m, options);
    // The file is part of the build and checked by a test: a broken one is a
    // programmer error.
    if (!status.ok() || !ValidateCostModel(*m, "cost_model.json").ok()) std::abort();
    return m;
  }();
  return *model;
}

absl::Status ValidateCostModel(const v1::CostModel& model, const std::string& field) {
  auto invalid = [&](const std::string& path, const std::string& rule) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".", path, ": ", rule));
  };
  if (!model.currency().empty() && model.currency() != "EUR") return invalid("currency", "must be EUR");
  if (model.conference_cost_cents() < 0) return invalid("conference_cost_cents", "must not be negative");
  if (model.professional_input_reduction() < 0 || model.professional_input_reduction() > 1) {
    return invalid("professional_input_reduction", "must lie between 0 and 1");
  }
  std::set<int> seen;
  for (int i = 0; i < model.savings_size(); ++i) {
    const v1::OutcomeSaving& s = model.savings(i);
    const std::string path = absl::StrCat("savings[", i, "]");
    if (s.outcome() <= 0 || s.outcome() >= kOutcomeTypes) {
      return invalid(path + ".outcome", "must be a known outcome type, not UNSPECIFIED");
    }
    if (!seen.insert(s.outcome()).second) return invalid(path + ".outcome", "appears twice");
    if (s.amount_cents() < 0) return invalid(path + ".amount_cents", "must not be negative");
  }
  std::set<int> domains;
  for (int i = 0; i < model.domain_savings_size(); ++i) {
    const v1::DomainSaving& s = model.domain_savings(i);
    const std::string path = absl::StrCat("domain_savings[", i, "]");
    if (s.domain() == v1::DOMAIN_UNSPECIFIED || !v1::Domain_IsValid(s.domain())) {
      return invalid(path + ".domain", "must be a known domain, not UNSPECIFIED");
    }
    if (!domains.insert(s.domain()).second) return invalid(path + ".domain", "appears twice");
    if (s.amount_cents() < 0) return invalid(path + ".amount_cents", "must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace kring::projections
