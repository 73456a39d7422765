#include "projections/network_size.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/bytes.h"
#include "common/status.h"
#include "eventstore/validation.h"

namespace kring::projections {
namespace {

constexpr char kCasePrefix[] = "case:";  // case_id -> storage::NetworkCase
constexpr char kFactPrefix[] = "conf:";  // case_id \0 BE64(version) -> storage::ConferenceFact
constexpr uint32_t kHistogramCap = 30;

absl::StatusOr<storage::NetworkCase> LoadCase(ModelTxn& txn, const std::string& case_id) {
  storage::NetworkCase c;
  ASSIGN_OR_RETURN(auto value, txn.Get(kCasePrefix + case_id));
  if (value && !c.ParseFromString(*value)) return absl::DataLossError("network-size: unreadable case record");
  return c;
}

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p * (sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (rank - lo) * (static_cast<double>(sorted[hi]) - sorted[lo]);
}

absl::StatusOr<absl::CivilDay> ParseDay(const std::string& text, const std::string& field) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a date YYYY-MM-DD, got \"", text, "\""));
  }
  return day;
}

std::string GroupKey(const storage::ConferenceFact& f, v1::Grouping grouping) {
  const absl::CivilSecond t = absl::ToCivilSecond(absl::FromUnixSeconds(f.occurred_at_seconds()), absl::UTCTimeZone());
  switch (grouping) {
    case v1::GROUPING_YEAR:
      return std::to_string(t.year());
    case v1::GROUPING_QUARTER:
      return absl::StrCat(t.year(), "-Q", (t.month() - 1) / 3 + 1);
    case v1::GROUPING_DOMAIN:
      return v1::Domain_Name(f.domain());
    case v1::GROUPING_MUNICIPALITY:
      return f.municipality_code();
    default:
      return "";
  }
}

struct Filter {
  std::set<int> domains;
  std::set<std::string> municipalities;
  int64_t from = INT64_MIN, to = INT64_MAX;
};

// The request's filters, checked (naming the field and rule).
absl::StatusOr<Filter> ParseFilter(const v1::NetworkSizeRequest& request) {
  Filter filter;
  for (int i = 0; i < request.domains_size(); ++i) {
    const int d = request.domains(i);
    if (!v1::Domain_IsValid(d) || d == v1::DOMAIN_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("domains[", i, "]: must be a known domain, not ", d));
    }
    filter.domains.insert(d);
  }
  for (int i = 0; i < request.municipality_codes_size(); ++i) {
    if (!eventstore::IsMunicipalityCode(request.municipality_codes(i))) {
      return absl::InvalidArgumentError(
          absl::StrCat("municipality_codes[", i, "]: must be a CBS code like GM0363 (GM and four digits)"));
    }
    filter.municipalities.insert(request.municipality_codes(i));
  }
  if (!v1::Grouping_IsValid(request.group_by())) {
    return absl::InvalidArgumentError("group_by: unknown grouping");
  }
  if (!request.conference_period().from().empty()) {
    ASSIGN_OR_RETURN(absl::CivilDay day, ParseDay(request.conference_period().from(), "conference_period.from"));
    filter.from = absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone()));
  }
  if (!request.conference_period().to().empty()) {
    ASSIGN_OR_RETURN(absl::CivilDay day, ParseDay(request.conference_period().to(), "conference_period.to"));
    filter.to = absl::ToUnixSeconds(absl::FromCivil(day + 1, absl::UTCTimeZone())) - 1;
  }
  if (filter.from > filter.to) return absl::InvalidArgumentError("conference_period: from must not lie after to");
  return filter;
}

}  // namespace

const char kNetworkSizeDefinition[] =
    "network size = per held conference (ConferenceHeld), the number of distinct attendees from the person's own "
    "network: central persons included; the case's coordinator(s) and participants invited with relation "
    "PROFESSIONAL excluded; attendees never invited in the case counted with relation UNSPECIFIED. Central persons: "
    "named in CaseReferred.central_person_ids or invited with central_person set. Percentiles by linear "
    "interpolation between closest ranks. Retracted events count as never recorded.";

absl::Status NetworkSizeProjection::ForgetCase(const std::string& case_id, ModelTxn& txn) {
  txn.Delete(kCasePrefix + case_id);
  std::string facts = kFactPrefix + case_id;
  facts.push_back('\0');
  return txn.DeletePrefix(facts);
}

absl::Status NetworkSizeProjection::Apply(const v1::RecordedEvent& event, ModelTxn& txn) {
  const v1::Event& e = event.event();
  const std::string& case_id = event.case_id();
  switch (e.payload_case()) {
    case v1::Event::kCaseReferred:
    case v1::Event::kCoordinatorAssigned:
    case v1::Event::kParticipantInvited: {
      ASSIGN_OR_RETURN(storage::NetworkCase c, LoadCase(txn, case_id));
      if (e.has_case_referred()) {
        c.set_domain(e.case_referred().domain());
        c.set_municipality_code(e.case_referred().municipality_code());
        *c.mutable_central_person_ids() = e.case_referred().central_person_ids();
      } else if (e.has_coordinator_assigned()) {
        c.add_coordinator_ids(e.coordinator_assigned().coordinator_id());
      } else {
        const auto& p = e.participant_invited();
        auto& stored = (*c.mutable_participants())[p.participant_id()];
        stored.set_relation(p.relation());
        stored.set_central_person(p.central_person());
      }
      txn.Put(kCasePrefix + case_id, c.SerializeAsString());
      return absl::OkStatus();
    }
    case v1::Event::kConferenceHeld: {
      ASSIGN_OR_RETURN(storage::NetworkCase c, LoadCase(txn, case_id));
      const std::set<std::string> coordinators(c.coordinator_ids().begin(), c.coordinator_ids().end());
      const std::set<std::string> referred_central(c.central_person_ids().begin(), c.central_person_ids().end());
      std::set<std::string> counted;
      storage::ConferenceFact fact;
      for (const std::string& id : e.conference_held().attendee_ids()) {
        if (coordinators.count(id) || !counted.insert(id).second) continue;
        auto it = c.participants().find(id);
        const v1::Relation relation = it == c.participants().end() ? v1::RELATION_UNSPECIFIED : it->second.relation();
        if (relation == v1::RELATION_PROFESSIONAL) {
          counted.erase(id);
          continue;
        }
        (*fact.mutable_by_relation())[relation]++;
        const bool central =
            referred_central.count(id) || (it != c.participants().end() && it->second.central_person());
        if (central) fact.set_central_persons(fact.central_persons() + 1);
      }
      fact.set_domain(c.domain());
      fact.set_municipality_code(c.municipality_code());
      fact.set_occurred_at_seconds(e.occurred_at().seconds());
      fact.set_network_size(static_cast<uint32_t>(counted.size()));
      std::string key = kFactPrefix + case_id;
      key.push_back('\0');
      PutBigEndian64(&key, event.stream_version());
      txn.Put(key, fact.SerializeAsString());
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

v1::NetworkSizeStats Summarize(const std::vector<storage::ConferenceFact>& facts) {
  v1::NetworkSizeStats stats;
  if (facts.empty()) return stats;
  std::vector<uint32_t> sizes;
  sizes.reserve(facts.size());
  std::map<int32_t, uint64_t> by_relation;
  uint64_t total = 0, central = 0;
  for (const auto& f : facts) {
    sizes.push_back(f.network_size());
    total += f.network_size();
    central += f.central_persons();
    for (const auto& [relation, count] : f.by_relation()) by_relation[relation] += count;
  }
  std::sort(sizes.begin(), sizes.end());
  const double n = static_cast<double>(sizes.size());
  stats.set_conferences(sizes.size());
  stats.set_mean(total / n);
  stats.set_median(Percentile(sizes, 0.5));
  stats.set_p10(Percentile(sizes, 0.10));
  stats.set_p25(Percentile(sizes, 0.25));
  stats.set_p75(Percentile(sizes, 0.75));
  stats.set_p90(Percentile(sizes, 0.90));
  stats.set_min(sizes.front());
  stats.set_max(sizes.back());
  stats.set_central_persons_mean(central / n);
  std::map<uint32_t, uint64_t> bins;
  for (uint32_t s : sizes) bins[std::min(s, kHistogramCap)]++;
  for (const auto& [size, count] : bins) {
    auto* bin = stats.add_histogram();
    bin->set_size(size);
    bin->set_conferences(count);
  }
  for (const auto& [relation, count] : by_relation) {
    auto* share = stats.add_composition();
    share->set_relation(static_cast<v1::Relation>(relation));
    share->set_attendees(count);
    share->set_mean_per_conference(count / n);
    share->set_share(total ? static_cast<double>(count) / total : 0);
  }
  return stats;
}

absl::Status ValidateNetworkSizeRequest(const v1::NetworkSizeRequest& request) { return ParseFilter(request).status(); }

absl::StatusOr<v1::NetworkSizeResponse> QueryNetworkSize(const ProjectionEngine& engine,
                                                         const v1::NetworkSizeRequest& request) {
  ASSIGN_OR_RETURN(const Filter filter, ParseFilter(request));
  const std::set<int>& domains = filter.domains;
  const std::set<std::string>& municipalities = filter.municipalities;
  const int64_t from = filter.from, to = filter.to;

  // Watermark first: the facts read afterwards reflect at least this much.
  const Watermark watermark = engine.watermark();
  std::vector<storage::ConferenceFact> selected;
  std::map<std::string, std::vector<storage::ConferenceFact>> groups;
  bool unreadable = false;
  RETURN_IF_ERROR(engine.ScanModel(kFactPrefix, [&](std::string_view, std::string_view value) {
    storage::ConferenceFact f;
    if (!f.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      unreadable = true;
      return;
    }
    if (!domains.empty() && !domains.count(f.domain())) return;
    if (!municipalities.empty() && !municipalities.count(f.municipality_code())) return;
    if (f.occurred_at_seconds() < from || f.occurred_at_seconds() > to) return;
    if (request.group_by() != v1::GROUPING_UNSPECIFIED) groups[GroupKey(f, request.group_by())].push_back(f);
    selected.push_back(std::move(f));
  }));
  if (unreadable) return absl::DataLossError("network-size: unreadable conference record");

  v1::NetworkSizeResponse response;
  *response.mutable_overall() = Summarize(selected);
  for (const auto& [key, facts] : groups) {
    auto* g = response.add_groups();
    g->set_key(key);
    *g->mutable_stats() = Summarize(facts);
  }
  response.mutable_watermark()->set_events_applied(watermark.events_applied);
  response.mutable_watermark()->set_max_global_position(watermark.max_global_position);
  response.set_definition(kNetworkSizeDefinition);
  return response;
}

}  // namespace kring::projections
