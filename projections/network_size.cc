#include "projections/network_size.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "common/status.h"
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
  DenseCounts sizes;  // exact size -> conferences
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
    sizes.Add(f.network_size);
    bin_keys[std::min(f.network_size, kHistogramCap)].Add(f.record_key);
    for (int r = 0; r < kRelations; ++r) {
      by_relation[r] += f.by_relation[r];
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
    sizes.Merge(o.sizes);
    conferences_key.Merge(o.conferences_key);
    for (uint32_t b = 0; b <= kHistogramCap; ++b) bin_keys[b].Merge(o.bin_keys[b]);
    for (int r = 0; r < kRelations; ++r) {
      by_relation[r] += o.by_relation[r];
      conferences_with[r] += o.conferences_with[r];
      relation_keys[r].Merge(o.relation_keys[r]);
    }
  }
  std::vector<uint64_t> Composition() const { return {conferences_with.begin(), conferences_with.end()}; }
};

// Counts and sums are published perturbed (cell_key.h): attendees and central
// persons as sums over the conferences, a relation's attendees as a sum over
// the conferences with one; means and shares from the perturbed figures;
// percentiles of the exact sizes.
void Fill(const NetworkTally& t, const Selection& selection, const Disclosed& bins, const Disclosed& composition,
          size_t row, v1::NetworkSizeStats* out) {
  // The count is published only where both tables publish it.
  const Suppression total = std::max(bins.total(row), composition.total(row));
  out->set_suppression(ToProto(total));
  const uint64_t conferences = PublishedCount(t.conferences, t.conferences_key, selection);
  const int64_t attendees = PerturbIntegerSum(static_cast<int64_t>(t.attendees), t.conferences, t.conferences_key.sum);
  if (total == Suppression::kNone && t.conferences > 0) {
    const double n = static_cast<double>(conferences);
    const int64_t central = PerturbIntegerSum(static_cast<int64_t>(t.central), t.conferences, t.conferences_key.sum);
    out->set_conferences(conferences);
    out->set_mean(attendees / n);
    out->set_central_persons_mean(central / n);
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
    bin->set_suppression(ToProto(bins.cell(row, size)));
    if (bins.cell(row, size) == Suppression::kNone) {
      bin->set_conferences(PublishedCount(histogram[size], t.bin_keys[size], selection));
    }
  }
  for (int r = 0; r < kRelations; ++r) {
    if (t.conferences_with[r] == 0) continue;
    v1::RelationShare* share = out->add_composition();
    share->set_relation(static_cast<v1::Relation>(r));
    share->set_suppression(ToProto(composition.cell(row, r)));
    if (composition.cell(row, r) != Suppression::kNone) continue;
    const int64_t relation_attendees =
        PerturbIntegerSum(static_cast<int64_t>(t.by_relation[r]), t.conferences_with[r], t.relation_keys[r].sum);
    share->set_conferences(PublishedCount(t.conferences_with[r], t.relation_keys[r], selection));
    share->set_attendees(static_cast<uint64_t>(relation_attendees));
    if (total == Suppression::kNone) {
      share->set_mean_per_conference(static_cast<double>(relation_attendees) / conferences);
      share->set_share(attendees ? static_cast<double>(relation_attendees) / attendees : 0);
    }
  }
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
  const auto tallies = model->Reduce<GroupedTally<NetworkTally>>([&](auto& t, const NetworkSizeRow& c, const auto&) {
    if (!by_case.Matches(c.profile)) return;
    for (const NetworkSizeRow::Conference& f : c.conferences) {
      if (f.day < selection.conference_from || f.day > selection.conference_to) continue;
      t.Add(selection, selection.grouped() ? selection.GroupOf(c.profile, f.day) : 0, f);
    }
  });

  // Two tables over the same groups: the histogram (its bins partition the
  // conferences) and the composition (a conference has several relations).
  const auto groups = tallies.Groups();
  std::vector<std::vector<uint64_t>> bins, composition;
  std::vector<uint64_t> totals;
  for (const auto& [key, tally] : groups) {
    bins.push_back(tally->Bins());
    composition.push_back(tally->Composition());
    totals.push_back(tally->conferences);
  }
  const NetworkTally overall = tallies.Overall();
  // The conferences with an attendee of a relation are some of the group's
  // conferences (the bins add up: their differences are sums of bins).
  std::vector<Nested> nested;
  for (size_t r = 0; r < kRelations; ++r) nested.push_back({Nested::kTotal, r});
  ASSIGN_OR_RETURN(Disclosed bins_mask,
                   Disclosed::Apply(bins, totals, overall.Bins(), overall.conferences,
                                    /*additive_rows=*/true, {}, selection, response.mutable_disclosure()));
  ASSIGN_OR_RETURN(Disclosed composition_mask,
                   Disclosed::Apply(composition, totals, overall.Composition(), overall.conferences,
                                    /*additive_rows=*/false, nested, selection, response.mutable_disclosure(),
                                    /*report_totals=*/false));
  ReportPerturbation(response.mutable_disclosure());
  Fill(overall, selection, bins_mask, composition_mask, Disclosed::kOverall, response.mutable_overall());
  size_t row = 0;
  for (const auto& [key, tally] : groups) {
    v1::NetworkSizeGroup* g = response.add_groups();
    g->set_key(selection.GroupName(key));
    Fill(*tally, selection, bins_mask, composition_mask, row++, g->mutable_stats());
  }
  response.set_definition(kNetworkSizeDefinition);
  response.set_as_of_position(request.as_of_position());
  return response;
}

}  // namespace kring::projections
