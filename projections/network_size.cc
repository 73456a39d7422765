#include "projections/network_size.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "projections/comparison.h"
#include "projections/research.h"
#include "projections/statistics.h"

namespace kring::projections {
namespace {

constexpr uint32_t kHistogramCap = 30;
constexpr int kRelations = v1::Relation_ARRAYSIZE;

struct NetworkTally {
  uint64_t conferences = 0;
  uint64_t attendees = 0;
  uint64_t central = 0;
  uint64_t central_squares = 0;  // Σ central persons² over the conferences (their SD)
  DenseCounts sizes;             // exact size -> conferences
  // Σ attendees² of each relation over the conferences (their SD).
  std::array<uint64_t, kRelations> by_relation_squares{};
  std::array<uint64_t, kRelations> by_relation{};
  std::array<uint64_t, kRelations> conferences_with{};
  // Cell keys (cell_key.h) of the conferences (also of their attendees and
  // central persons), of each histogram bin's, and of those with an attendee
  // of each relation (also of that relation's attendees).
  CellKey conferences_key;
  std::array<CellKey, kHistogramCap + 1> bin_keys{};
  std::array<CellKey, kRelations> relation_keys{};

  void Add(const NetworkSizeRow::Conference& f) {
    ++conferences;
    conferences_key.Add(f.record_key);
    attendees += f.network_size;
    central += f.central_persons;
    central_squares += uint64_t{f.central_persons} * f.central_persons;
    sizes.Add(f.network_size);
    bin_keys[std::min(f.network_size, kHistogramCap)].Add(f.record_key);
    for (int r = 0; r < kRelations; ++r) {
      by_relation[r] += f.by_relation[r];
      by_relation_squares[r] += uint64_t{f.by_relation[r]} * f.by_relation[r];
      if (f.by_relation[r] > 0) {
        ++conferences_with[r];
        relation_keys[r].Add(f.record_key);
      }
    }
  }
  // Histogram bins 0..kHistogramCap: they partition the conferences.
  std::vector<uint64_t> Bins() const {
    std::vector<uint64_t> bins(kHistogramCap + 1);
    for (const auto& [size, n] : sizes.ToMap()) bins[std::min<int64_t>(size, kHistogramCap)] += n;
    return bins;
  }
  void Merge(const NetworkTally& o) {
    conferences += o.conferences;
    attendees += o.attendees;
    central += o.central;
    central_squares += o.central_squares;
    sizes.Merge(o.sizes);
    conferences_key.Merge(o.conferences_key);
    for (uint32_t b = 0; b <= kHistogramCap; ++b) bin_keys[b].Merge(o.bin_keys[b]);
    for (int r = 0; r < kRelations; ++r) {
      by_relation[r] += o.by_relation[r];
      by_relation_squares[r] += o.by_relation_squares[r];
      conferences_with[r] += o.conferences_with[r];
      relation_keys[r].Merge(o.relation_keys[r]);
    }
  }
  std::vector<uint64_t> Composition() const { return {conferences_with.begin(), conferences_with.end()}; }
  // The sample standard deviations of the exact values per conference: its
  // size, its central persons, its attendees of relation r.
  std::optional<double> SizeSd() const {
    __int128 squares = 0;
    for (const auto& [size, n] : sizes.ToMap()) squares += static_cast<__int128>(size) * size * n;
    return SampleSd(conferences, static_cast<int64_t>(attendees), squares);
  }
  std::optional<double> CentralSd() const {
    return SampleSd(conferences, static_cast<int64_t>(central), static_cast<__int128>(central_squares));
  }
  std::optional<double> RelationSd(int r) const {
    return SampleSd(conferences, static_cast<int64_t>(by_relation[r]), static_cast<__int128>(by_relation_squares[r]));
  }
};

// The answer's table: the histogram's bins (columns 0..kHistogramCap, a
// partition of the conferences), then per relation the conferences with an
// attendee of it (kComposition + relation; a conference has several).
constexpr size_t kComposition = kHistogramCap + 1;

// The sums the answer publishes through its means and shares, by column of
// Relations::sums: the attendees (mean x conferences), the central persons
// (central_persons_mean x conferences), the sizes of the conferences of the
// "30 or more" bin (never published), and per relation its attendees.
enum SumColumnOf : size_t { kAttendees = 0, kCentral = 1, kSizesOver = 2, kRelationAttendees = 3 };

std::vector<SumColumn> NetworkSums() {
  std::vector<SumColumn> sums = {{Nested::kTotal, true}, {Nested::kTotal, true}, {kHistogramCap, false}};
  for (int r = 0; r < kRelations; ++r) sums.push_back({kComposition + r, true});
  return sums;
}

// A row's sums and the equations a reader can write down from its published
// figures (docs/research.md, "Disclosure control"):
// - the bins add up to the conferences;
// - sum over bins of size x conferences, plus the sizes of the 30+ bin, is the
//   attendees (mean x conferences);
// - the relations' attendees add up to the attendees (mean_per_conference x
//   conferences, or share x attendees, or `attendees` itself).
// Percentiles are not among them (docs/research.md, "Known limits").
RowSums NetworkRowSums(const NetworkTally& t) {
  RowSums out;
  int64_t over = 0;
  const std::map<int64_t, uint64_t> sizes = t.sizes.ToMap();
  for (const auto& [size, n] : sizes) {
    if (size >= kHistogramCap) over += size * static_cast<int64_t>(n);
  }
  out.values = {static_cast<int64_t>(t.attendees), static_cast<int64_t>(t.central), over};
  for (int r = 0; r < kRelations; ++r) out.values.push_back(static_cast<int64_t>(t.by_relation[r]));
  using Kind = RowTerm::Kind;
  RowEquation bins{{{Kind::kCount, Nested::kTotal, -1}}, 0};
  RowEquation weighted{{{Kind::kSum, kSizesOver, 1}, {Kind::kSum, kAttendees, -1}}, 0};
  RowEquation relations{{{Kind::kSum, kAttendees, -1}}, 0};
  for (uint32_t s = 0; s <= kHistogramCap; ++s) {
    bins.terms.push_back({Kind::kCount, s, 1});
    if (s < kHistogramCap && s > 0) weighted.terms.push_back({Kind::kCount, s, static_cast<int64_t>(s)});
  }
  for (int r = 0; r < kRelations; ++r) relations.terms.push_back({Kind::kSum, kRelationAttendees + r, 1});
  out.equations = {bins, weighted, relations};
  return out;
}

// Counts and sums are published perturbed (cell_key.h): attendees and central
// persons as sums over the conferences, a relation's attendees as a sum over
// the conferences with one; means and shares from the perturbed figures;
// percentiles of the exact sizes.
void Fill(const NetworkTally& t, const Selection& selection, const Disclosed& d, size_t row,
          v1::NetworkSizeStats* out) {
  const Suppression total = d.total(row);
  out->set_suppression(ToProto(total));
  const uint64_t conferences = PublishedCount(t.conferences, t.conferences_key, selection);
  const int64_t attendees = PerturbIntegerSum(static_cast<int64_t>(t.attendees), t.conferences, t.conferences_key.sum);
  if (total == Suppression::kNone && t.conferences > 0) {
    const double n = static_cast<double>(conferences);
    const int64_t central = PerturbIntegerSum(static_cast<int64_t>(t.central), t.conferences, t.conferences_key.sum);
    out->set_conferences(conferences);
    out->set_mean(attendees / n);
    out->set_central_persons_mean(central / n);
    SetMeanInterval(out->mean(), t.SizeSd(), n, out->mutable_mean_ci());
    SetMeanInterval(out->central_persons_mean(), t.CentralSd(), n, out->mutable_central_persons_mean_ci());
    const std::array<std::pair<double, void (v1::NetworkSizeStats::*)(double)>, 5> percentiles = {{
        {0.5, &v1::NetworkSizeStats::set_median},
        {0.10, &v1::NetworkSizeStats::set_p10},
        {0.25, &v1::NetworkSizeStats::set_p25},
        {0.75, &v1::NetworkSizeStats::set_p75},
        {0.90, &v1::NetworkSizeStats::set_p90},
    }};
    const std::map<int64_t, uint64_t> sizes = t.sizes.ToMap();
    for (const auto& [p, set] : percentiles) {
      if (auto value = Percentile(sizes, p); value.ok()) (out->*set)(*value);
    }
  } else if (total == Suppression::kNone) {
    out->set_conferences(0);
  }
  const std::vector<uint64_t> histogram = t.Bins();
  for (uint32_t size = 0; size <= kHistogramCap; ++size) {
    if (histogram[size] == 0) continue;
    v1::HistogramBin* bin = out->add_histogram();
    bin->set_size(size);
    bin->set_suppression(ToProto(d.cell(row, size)));
    if (d.cell(row, size) == Suppression::kNone) {
      bin->set_conferences(PublishedCount(histogram[size], t.bin_keys[size], selection));
    }
  }
  for (int r = 0; r < kRelations; ++r) {
    if (t.conferences_with[r] == 0) continue;
    v1::RelationShare* share = out->add_composition();
    share->set_relation(static_cast<v1::Relation>(r));
    const Suppression s = d.cell(row, kComposition + r);
    share->set_suppression(ToProto(s));
    if (s != Suppression::kNone) continue;
    const int64_t relation_attendees =
        PerturbIntegerSum(static_cast<int64_t>(t.by_relation[r]), t.conferences_with[r], t.relation_keys[r].sum);
    share->set_conferences(PublishedCount(t.conferences_with[r], t.relation_keys[r], selection));
    share->set_attendees(static_cast<uint64_t>(relation_attendees));
    if (total == Suppression::kNone) {
      share->set_mean_per_conference(static_cast<double>(relation_attendees) / conferences);
      share->set_share(attendees ? static_cast<double>(relation_attendees) / attendees : 0);
      SetMeanInterval(share->mean_per_conference(), t.RelationSd(r), static_cast<double>(conferences),
                      share->mutable_mean_per_conference_ci());
      if (attendees > 0) SetWilson(relation_attendees, attendees, 1, share->mutable_share_ci());
    }
  }
}

// The table's columns for one tally: bins, then composition.
std::vector<uint64_t> Columns(const NetworkTally& t) {
  std::vector<uint64_t> cols = t.Bins();
  const std::vector<uint64_t> composition = t.Composition();
  cols.insert(cols.end(), composition.begin(), composition.end());
  return cols;
}

}  // namespace

const char kNetworkSizeDefinition[] =
    "network size = per held conference (ConferenceHeld), the number of distinct attendees from the person's own "
    "network: central persons included; the case's coordinator(s) and participants invited with relation "
    "PROFESSIONAL excluded; attendees never invited in the case counted with relation UNSPECIFIED. Central persons: "
    "named in CaseReferred.central_person_ids or invited with central_person set. Percentiles by linear "
    "interpolation between closest ranks. Filters on the case as referred; conference_period, year and quarter on "
    "the date of each conference. Retracted events count as never recorded.";

bool NetworkSizeProjection::Relevant(const v1::Event& e) const {
  return e.has_case_referred() || e.has_coordinator_assigned() || e.has_participant_invited() ||
         e.has_conference_held();
}

absl::Status NetworkSizeProjection::Fold(const v1::RecordedEvent& event, storage::NetworkSizeCase& c) {
  FoldProfile(event, *c.mutable_profile());
  const v1::Event& e = event.event();
  switch (e.payload_case()) {
    case v1::Event::kCaseReferred:
      c.clear_central_persons();
      for (const std::string& id : e.case_referred().central_person_ids()) c.add_central_persons(ParticipantKey(id));
      break;
    case v1::Event::kCoordinatorAssigned:
      c.add_coordinators(ParticipantKey(e.coordinator_assigned().coordinator_id()));
      break;
    case v1::Event::kParticipantInvited: {
      storage::NetworkParticipant& p =
          (*c.mutable_participants())[ParticipantKey(e.participant_invited().participant_id())];
      p.set_relation(e.participant_invited().relation());
      p.set_central_person(e.participant_invited().central_person());
      break;
    }
    case v1::Event::kConferenceHeld: {
      storage::ConferenceFact* fact = c.add_conferences();
      fact->set_day(DayOf(e.occurred_at()));
      fact->set_record_key(secret().ConferenceKey(e.event_id()));
      for (int r = 0; r < kRelations; ++r) fact->add_by_relation(0);
      std::set<uint64_t> counted;
      for (const std::string& id : e.conference_held().attendee_ids()) {
        const uint64_t key = ParticipantKey(id);
        if (ContainsKey(c.coordinators(), key) || counted.count(key)) continue;
        auto it = c.participants().find(key);
        const v1::Relation relation = it == c.participants().end() ? v1::RELATION_UNSPECIFIED : it->second.relation();
        if (relation == v1::RELATION_PROFESSIONAL) continue;
        counted.insert(key);
        fact->set_by_relation(relation, fact->by_relation(relation) + 1);
        if (ContainsKey(c.central_persons(), key) || (it != c.participants().end() && it->second.central_person())) {
          fact->set_central_persons(fact->central_persons() + 1);
        }
      }
      fact->set_network_size(static_cast<uint32_t>(counted.size()));
      break;
    }
    default:
      break;
  }
  return absl::OkStatus();
}

NetworkSizeRow NetworkSizeProjection::MakeRow(const storage::NetworkSizeCase& c) const {
  NetworkSizeRow row;
  row.profile = ToRow(c.profile());
  for (const storage::ConferenceFact& f : c.conferences()) {
    NetworkSizeRow::Conference& out = row.conferences.emplace_back();
    out.day = f.day();
    out.network_size = f.network_size();
    out.central_persons = f.central_persons();
    out.record_key = f.record_key();
    for (int r = 0; r < std::min(kRelations, f.by_relation_size()); ++r) out.by_relation[r] = f.by_relation(r);
  }
  return row;
}

absl::Status ValidateNetworkSizeRequest(const v1::NetworkSizeRequest& request) {
  return ParseSelection(request).status();
}

absl::StatusOr<v1::NetworkSizeResponse> QueryNetworkSize(const ProjectionEngine& engine,
                                                         const v1::NetworkSizeRequest& request) {
  ASSIGN_OR_RETURN(Selection selection, ParseSelection(request));
  ASSIGN_OR_RETURN(const NetworkSizeProjection* model, ModelOf<NetworkSizeProjection>(engine));
  // Here the conference period applies to each conference, not to the case's
  // first one.
  Selection by_case = selection;
  by_case.conference_filter = false;

  v1::NetworkSizeResponse response;
  SetWatermark(engine, response.mutable_watermark());  // first: the cases read reflect at least this
  // The conference period is not a filter on the case's cell: it is one of
  // the parameters of what a case adds.
  const std::string parameters =
      absl::StrCat("conference_period=", selection.conference_from, "..", selection.conference_to);
  const auto tallies =
      model->ReduceCells<NetworkTally>(by_case, parameters, [&](auto& t, const NetworkSizeRow& c, const auto&) {
        if (!by_case.Matches(c.profile)) return;
        for (const NetworkSizeRow::Conference& f : c.conferences) {
          if (f.day < selection.conference_from || f.day > selection.conference_to) continue;
          t.Add(selection, selection.grouped() ? selection.GroupOf(c.profile, f.day) : 0, f);
        }
      });

  // One table over the groups: the bins (they partition a group's
  // conferences) and the composition (a conference has several relations),
  // with the sums the means and shares publish and their equations.
  const auto groups = tallies.Groups();
  std::vector<std::vector<uint64_t>> columns;
  std::vector<uint64_t> totals;
  Relations relations;
  relations.sums = NetworkSums();
  for (const auto& [key, tally] : groups) {
    columns.push_back(Columns(*tally));
    totals.push_back(tally->conferences);
    relations.groups.push_back(NetworkRowSums(*tally));
  }
  const NetworkTally overall = tallies.Overall();
  relations.overall = NetworkRowSums(overall);
  // The conferences with an attendee of a relation are some of the group's
  // conferences (the bins add up: their differences are sums of bins).
  std::vector<Nested> nested;
  for (size_t r = 0; r < kRelations; ++r) nested.push_back({Nested::kTotal, kComposition + r});
  ASSIGN_OR_RETURN(Disclosed disclosed, Disclosed::Apply(columns, totals, Columns(overall), overall.conferences,
                                                         /*additive_rows=*/false, nested, selection,
                                                         response.mutable_disclosure(), &relations));
  ReportPerturbation(response.mutable_disclosure());
  Fill(overall, selection, disclosed, Disclosed::kOverall, response.mutable_overall());
  size_t row = 0;
  for (const auto& [key, tally] : groups) {
    v1::NetworkSizeGroup* g = response.add_groups();
    g->set_key(selection.GroupName(key));
    g->set_key2(selection.GroupName2(key));
    Fill(*tally, selection, disclosed, row++, g->mutable_stats());
  }
  if (!selection.compare_with.empty()) {
    // The mean network size: Welch, with the exact sizes' SD and the
    // published count of conferences.
    const std::vector<std::string> labels = LabelsOf(response.groups());
    ASSIGN_OR_RETURN(const size_t reference, ReferenceGroup(labels, selection.compare_with));
    std::vector<std::vector<ComparedFigure>> figures;
    size_t i = 0;
    for (const auto& [key, tally] : groups) {
      const v1::NetworkSizeStats& stats = response.groups(static_cast<int>(i++)).stats();
      ComparedFigure f;
      f.measure = "mean";
      f.kind = ComparedFigure::Kind::kMean;
      f.present = stats.has_mean();
      f.estimate = stats.mean();
      f.n = static_cast<double>(stats.conferences());
      const std::optional<double> sd = tally->SizeSd();
      f.sd_known = sd.has_value();
      f.sd = sd.value_or(0);
      figures.push_back({f});
    }
    *response.mutable_comparison() = Compare(labels, figures, reference);
  }
  CountSuppressedFields(response.overall(), response.mutable_disclosure());
  for (const v1::NetworkSizeGroup& g : response.groups()) CountSuppressedFields(g, response.mutable_disclosure());
  response.set_definition(kNetworkSizeDefinition);
  response.set_as_of_position(request.as_of_position());
  return response;
}

}  // namespace kring::projections
