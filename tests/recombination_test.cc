// No published figure recombines to a suppressed one (issue 13, defect 2).
//
// The situations the issue found are built through the real read models and
// Query* functions; then an attacker written here, independently of
// projections/disclosure.cc, reads only the PUBLISHED answer, writes down
// every relation the documentation states (docs/research.md, "Disclosure
// control": bins add up to n, bins times their sizes plus the 30+ sizes add up
// to mean x n, the relations' attendees add up to it, groups add up to the
// overall row, an amount divided by its price is its count, gross = lines +
// domain savings, net = gross - costs, costs = price x cases without a
// recorded cost + the recorded ones), and solves them all together exactly
// (Gauss–Jordan over the rationals). No suppressed count, no sum over a
// suppressed count's units and no count of 1..k-1 may come out determined.
// Finally, every answer's DisclosureReport must count exactly the suppressed
// fields it shows.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/event_store.h"
#include "projections/cell_key.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/support.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using eventstore::EventStore;

// ---------------------------------------------------------------------------
// The attacker: exact rational linear algebra over named unknowns.

using Int = __int128;

Int Gcd(Int a, Int b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    const Int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

struct Q {
  Int num = 0;
  Int den = 1;
  static Q Of(Int n, Int d = 1) {
    if (d < 0) n = -n, d = -d;
    const Int g = Gcd(n, d);
    return g > 1 ? Q{n / g, d / g} : Q{n, d};
  }
  bool zero() const { return num == 0; }
  Q operator+(const Q& o) const { return Of(num * o.den + o.num * den, den * o.den); }
  Q operator-(const Q& o) const { return Of(num * o.den - o.num * den, den * o.den); }
  Q operator*(const Q& o) const { return Of(num * o.num, den * o.den); }
  Q operator/(const Q& o) const { return Of(num * o.den, den * o.num); }
};

std::string ToString(const Q& q) {
  auto str = [](Int v) {
    const bool neg = v < 0;
    if (neg) v = -v;
    std::string s;
    do {
      s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
      v /= 10;
    } while (v != 0);
    return neg ? "-" + s : s;
  };
  return q.den == 1 ? str(q.num) : str(q.num) + "/" + str(q.den);
}

class Attacker {
 public:
  explicit Attacker(uint32_t k) : k_(k) {}

  // What the answer shows.
  void Known(const std::string& name, int64_t value) { known_[name] = value; }
  // What it does not: `guarded` when recovering it discloses (a suppressed
  // count, a sum over a suppressed count's units); `count` when it counts
  // cases or conferences (then any value of 1..k-1 recovered discloses too).
  void Unknown(const std::string& name, bool guarded, bool count) { unknown_[name] = {guarded, count}; }
  // sum(coefficient * variable) = constant. A variable neither Known nor
  // Unknown is an unguarded unknown.
  void Relation(const std::vector<std::pair<std::string, int64_t>>& terms, int64_t constant = 0) {
    relations_.push_back({terms, constant});
  }

  // Every disclosure the relations give, as "name = value".
  std::vector<std::string> Leaks() const {
    std::vector<std::string> names;
    std::map<std::string, size_t> column;
    for (const auto& [terms, c] : relations_) {
      for (const auto& [name, coefficient] : terms) {
        if (!known_.count(name) && !column.count(name)) {
          column[name] = names.size();
          names.push_back(name);
        }
      }
    }
    const size_t n = names.size();
    std::vector<std::vector<Q>> m;
    for (const auto& [terms, c] : relations_) {
      std::vector<Q> row(n + 1);
      row[n] = Q::Of(c);
      for (const auto& [name, coefficient] : terms) {
        auto it = known_.find(name);
        if (it != known_.end()) {
          row[n] = row[n] - Q::Of(Int{coefficient} * it->second);
        } else {
          row[column.at(name)] = row[column.at(name)] + Q::Of(coefficient);
        }
      }
      m.push_back(std::move(row));
    }
    // Reduced row echelon form.
    size_t rank = 0;
    std::vector<size_t> pivots;
    for (size_t c = 0; c < n && rank < m.size(); ++c) {
      size_t p = rank;
      while (p < m.size() && m[p][c].zero()) ++p;
      if (p == m.size()) continue;
      std::swap(m[p], m[rank]);
      const Q pivot = m[rank][c];
      for (Q& v : m[rank]) v = v / pivot;
      for (size_t r = 0; r < m.size(); ++r) {
        if (r == rank || m[r][c].zero()) continue;
        const Q f = m[r][c];
        for (size_t j = 0; j <= n; ++j) m[r][j] = m[r][j] - f * m[rank][j];
      }
      pivots.push_back(c);
      ++rank;
    }
    std::vector<std::string> leaks;
    for (size_t r = 0; r < rank; ++r) {
      bool alone = true;
      for (size_t j = 0; j < n && alone; ++j) alone = j == pivots[r] || m[r][j].zero();
      if (!alone) continue;
      const std::string& name = names[pivots[r]];
      const Q value = m[r][n];
      auto it = unknown_.find(name);
      const bool guarded = it != unknown_.end() && it->second.first;
      const bool small_count = it != unknown_.end() && it->second.second && value.den == 1 && value.num >= 1 &&
                               value.num < static_cast<Int>(k_);
      // A sum recovered as zero (units all of size zero) is what the
      // published zero bins say already: no figure the answer withholds.
      if ((guarded && !value.zero()) || small_count) leaks.push_back(name + " = " + ToString(value));
    }
    return leaks;
  }

 private:
  uint32_t k_;
  std::map<std::string, int64_t> known_;
  std::map<std::string, std::pair<bool, bool>> unknown_;
  std::vector<std::pair<std::vector<std::pair<std::string, int64_t>>, int64_t>> relations_;
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += s + "; ";
  return out;
}

// A figure published as a double that is a whole number times n (mean x n).
int64_t Times(double mean, uint64_t n) { return std::llround(mean * static_cast<double>(n)); }

// ---------------------------------------------------------------------------
// Network size, as the attacker reads it.

constexpr uint32_t kCap = 30;

// Writes one row's figures and relations under `p` ("" overall, else "g<i>.").
void ReadNetworkRow(const v1::NetworkSizeStats& s, const std::string& p, Attacker& a, std::vector<std::string>* names) {
  const bool n_known = s.has_conferences();
  const bool n_guarded = s.suppression() != v1::SUPPRESSION_NONE;
  if (n_known) {
    a.Known(p + "n", s.conferences());
  } else {
    a.Unknown(p + "n", n_guarded, true);
  }
  // Sums published through means: mean x n, central_persons_mean x n.
  if (n_known && s.has_mean()) {
    a.Known(p + "A", Times(s.mean(), s.conferences()));
  } else {
    a.Unknown(p + "A", n_guarded, false);
  }
  if (n_known && s.has_central_persons_mean()) {
    a.Known(p + "C", Times(s.central_persons_mean(), s.conferences()));
  } else {
    a.Unknown(p + "C", n_guarded, false);
  }
  std::map<uint32_t, const v1::HistogramBin*> bins;
  for (const v1::HistogramBin& b : s.histogram()) bins[b.size()] = &b;
  std::vector<std::pair<std::string, int64_t>> bins_add_up = {{p + "n", -1}};
  std::vector<std::pair<std::string, int64_t>> weighted = {{p + "A", -1}, {p + "U30", 1}};
  for (uint32_t size = 0; size <= kCap; ++size) {
    const std::string name = p + "bin" + std::to_string(size);
    auto it = bins.find(size);
    if (it == bins.end()) {
      a.Known(name, 0);  // a bin not listed is empty
    } else if (it->second->has_conferences()) {
      a.Known(name, it->second->conferences());
    } else {
      a.Unknown(name, it->second->suppression() != v1::SUPPRESSION_NONE, true);
    }
    bins_add_up.push_back({name, 1});
    if (size < kCap) weighted.push_back({name, size});
  }
  // The sizes of the 30+ bin: never published, zero when the bin is empty.
  if (bins.count(kCap) == 0) {
    a.Known(p + "U30", 0);
  } else {
    a.Unknown(p + "U30", bins[kCap]->suppression() != v1::SUPPRESSION_NONE, false);
  }
  a.Relation(bins_add_up);
  a.Relation(weighted);
  std::vector<std::pair<std::string, int64_t>> relations_add_up = {{p + "A", -1}};
  std::map<int, const v1::RelationShare*> shares;
  for (const v1::RelationShare& r : s.composition()) shares[r.relation()] = &r;
  for (int rel = 0; rel < v1::Relation_ARRAYSIZE; ++rel) {
    const std::string count = p + "with" + std::to_string(rel), sum = p + "R" + std::to_string(rel);
    auto it = shares.find(rel);
    if (it == shares.end()) {
      a.Known(count, 0);
      a.Known(sum, 0);
    } else {
      const v1::RelationShare& r = *it->second;
      const bool guarded = r.suppression() != v1::SUPPRESSION_NONE;
      if (r.has_conferences()) {
        a.Known(count, r.conferences());
      } else {
        a.Unknown(count, guarded, true);
      }
      if (r.has_attendees()) {
        a.Known(sum, r.attendees());
      } else if (r.has_mean_per_conference() && n_known) {
        a.Known(sum, Times(r.mean_per_conference(), s.conferences()));
      } else {
        a.Unknown(sum, guarded, false);
      }
      // share x attendees = the relation's attendees.
      if (r.has_share() && n_known && s.has_mean()) {
        const int64_t total = Times(s.mean(), s.conferences());
        a.Relation({{sum, 1}}, std::llround(r.share() * static_cast<double>(total)));
      }
    }
    relations_add_up.push_back({sum, 1});
  }
  a.Relation(relations_add_up);
  names->insert(names->end(), {"n", "A", "C", "U30"});
  for (uint32_t size = 0; size <= kCap; ++size) names->push_back("bin" + std::to_string(size));
  for (int rel = 0; rel < v1::Relation_ARRAYSIZE; ++rel) {
    names->push_back("with" + std::to_string(rel));
    names->push_back("R" + std::to_string(rel));
  }
}

// Groups partition the conferences (and so every count and sum).
void GroupsAddUp(size_t groups, const std::vector<std::string>& names, Attacker& a) {
  if (groups == 0) return;
  for (const std::string& name : names) {
    std::vector<std::pair<std::string, int64_t>> terms = {{name, -1}};
    for (size_t g = 0; g < groups; ++g) terms.push_back({"g" + std::to_string(g) + "." + name, 1});
    a.Relation(terms);
  }
}

std::vector<std::string> Attack(const v1::NetworkSizeResponse& r, uint32_t k) {
  Attacker a(k);
  std::vector<std::string> names;
  ReadNetworkRow(r.overall(), "", a, &names);
  for (int g = 0; g < r.groups_size(); ++g) {
    std::vector<std::string> ignored;
    ReadNetworkRow(r.groups(g).stats(), "g" + std::to_string(g) + ".", a, &ignored);
  }
  GroupsAddUp(r.groups_size(), names, a);
  return a.Leaks();
}

// ---------------------------------------------------------------------------
// Cost–benefit, as the attacker reads it.

void ReadCostRow(const v1::CostBenefitGroup& g, const v1::CostModel& model, const std::string& p, Attacker& a,
                 std::vector<std::string>* names) {
  const int64_t price = model.conference_cost_cents();
  const bool n_guarded = g.conferences_suppression() != v1::SUPPRESSION_NONE;
  if (g.has_conferences()) {
    a.Known(p + "n", g.conferences());
  } else {
    a.Unknown(p + "n", n_guarded, true);
  }
  const bool w_guarded = g.conferences_with_recorded_cost_suppression() != v1::SUPPRESSION_NONE;
  if (g.has_conferences_with_recorded_cost()) {
    a.Known(p + "w", g.conferences_with_recorded_cost());
    if (g.conferences_with_recorded_cost() == 0) a.Known(p + "recorded", 0);
  } else {
    a.Unknown(p + "w", w_guarded, true);
  }
  if (!g.has_conferences_with_recorded_cost() || g.conferences_with_recorded_cost() > 0) {
    a.Unknown(p + "recorded", w_guarded, false);  // the recorded costs of those w cases
  }
  // costs = price x (n - w) + recorded.
  if (g.has_conference_costs_cents()) {
    a.Known(p + "costs", g.conference_costs_cents());
  } else {
    a.Unknown(p + "costs", n_guarded, false);
  }
  a.Relation({{p + "costs", 1}, {p + "n", -price}, {p + "w", price}, {p + "recorded", -1}});
  // Lines: an amount divided by its price is its count (or children).
  std::vector<std::pair<std::string, int64_t>> gross = {{p + "gross", -1}};
  for (const v1::SavingLine& line : g.lines()) {
    const std::string t = std::to_string(line.outcome());
    const v1::OutcomeSaving* saving = nullptr;
    for (const v1::OutcomeSaving& s : model.savings()) {
      if (s.outcome() == line.outcome()) saving = &s;
    }
    ASSERT_NE(saving, nullptr);
    const bool guarded = line.suppression() != v1::SUPPRESSION_NONE;
    const std::string cases = p + "cases" + t, units = saving->per_child() ? p + "units" + t : cases;
    if (line.has_cases()) {
      a.Known(cases, line.cases());
    } else {
      a.Unknown(cases, guarded, true);
    }
    if (saving->per_child()) {
      if (line.has_units()) {
        a.Known(units, line.units());
      } else {
        a.Unknown(units, guarded, false);
      }
    }
    if (line.has_savings_cents()) a.Relation({{units, saving->amount_cents()}}, line.savings_cents());
    gross.push_back({units, saving->amount_cents()});
    names->push_back("cases" + t);
    if (saving->per_child()) names->push_back("units" + t);
  }
  // Domain savings: the priced domains' conference cases times their price;
  // the domains partition the conference cases.
  const bool d_guarded = g.domain_savings_suppression() != v1::SUPPRESSION_NONE;
  std::vector<std::pair<std::string, int64_t>> domain_savings = {{p + "D", -1}};
  std::vector<std::pair<std::string, int64_t>> domains = {{p + "n", -1}, {p + "dom_other", 1}};
  for (const v1::DomainSaving& s : model.domain_savings()) {
    const std::string dom = p + "dom" + std::to_string(s.domain());
    a.Unknown(dom, d_guarded, true);
    domain_savings.push_back({dom, s.amount_cents()});
    domains.push_back({dom, 1});
    gross.push_back({dom, s.amount_cents()});
    names->push_back("dom" + std::to_string(s.domain()));
  }
  a.Unknown(p + "dom_other", false, true);
  a.Relation(domains);
  a.Relation(domain_savings);
  if (g.has_domain_savings_cents()) a.Known(p + "D", g.domain_savings_cents());
  a.Relation(gross);
  if (g.has_gross_savings_cents()) a.Known(p + "gross", g.gross_savings_cents());
  if (g.has_net_savings_cents()) a.Known(p + "net", g.net_savings_cents());
  a.Relation({{p + "net", 1}, {p + "gross", -1}, {p + "costs", 1}});
  names->insert(names->end(), {"n", "w", "recorded", "costs", "dom_other", "D", "gross", "net"});
}

std::vector<std::string> Attack(const v1::CostBenefitResponse& r, uint32_t k) {
  Attacker a(k);
  std::vector<std::string> names;
  ReadCostRow(r.overall(), r.cost_model(), "", a, &names);
  for (int g = 0; g < r.groups_size(); ++g) {
    std::vector<std::string> ignored;
    ReadCostRow(r.groups(g), r.cost_model(), "g" + std::to_string(g) + ".", a, &ignored);
  }
  GroupsAddUp(r.groups_size(), names, a);
  return a.Leaks();
}

// ---------------------------------------------------------------------------
// The report: the suppressed fields an answer shows, found by name
// ("suppression" or "*_suppression"), whatever their message.

void CountByName(const google::protobuf::Message& m, uint32_t* primary, uint32_t* secondary) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    const std::string& name = f->name();
    const bool suppression =
        name == "suppression" || (name.size() > 12 && name.compare(name.size() - 12, 12, "_suppression") == 0);
    if (suppression && !f->is_repeated()) {
      const int v = r->GetEnumValue(m, f);
      *primary += v == v1::SUPPRESSION_PRIMARY;
      *secondary += v == v1::SUPPRESSION_SECONDARY;
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE && f->name() != "disclosure") {
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(m, f); ++j) CountByName(r->GetRepeatedMessage(m, f, j), primary, secondary);
      } else if (r->HasField(m, f)) {
        CountByName(r->GetMessage(m, f), primary, secondary);
      }
    }
  }
}

template <typename Response>
void ExpectReportCountsTheSuppressedFields(const Response& r, const std::string& what) {
  uint32_t primary = 0, secondary = 0;
  CountByName(r, &primary, &secondary);
  EXPECT_EQ(r.disclosure().primary_cells(), primary) << what;
  EXPECT_EQ(r.disclosure().secondary_cells(), secondary) << what;
}

// ---------------------------------------------------------------------------
// Cases

// One case: referred in `domain` and `municipality`; with a conference
// attended by `network` members (p0 FAMILY and central, p1 FAMILY, p2 FRIEND,
// then FAMILY, FAMILY, FRIEND, …), the coordinator and a professional; and
// the outcomes recorded.
struct Spec {
  v1::Domain domain = v1::DOMAIN_YOUTH_PROTECTION;
  std::string municipality = "GM0363";
  bool conference = true;
  int network = 4;
  std::vector<v1::OutcomeType> outcomes;
  int children = 1;
  std::vector<v1::Relation> relations;  // overrides the pattern above when not empty
};

std::vector<v1::Event> Events(const std::string& id, const Spec& s) {
  std::vector<v1::Event> ev = {testing::CaseReferredEvent(s.domain, s.municipality)};
  ev.push_back(testing::ParticipantInvitedEvent(id + "-pro", v1::RELATION_PROFESSIONAL));
  std::vector<std::string> attendees;
  for (int i = 0; i < s.network; ++i) {
    const v1::Relation relation = !s.relations.empty() ? s.relations[i % s.relations.size()]
                                  : i % 3 == 2         ? v1::RELATION_FRIEND
                                                       : v1::RELATION_FAMILY;
    ev.push_back(testing::ParticipantInvitedEvent(id + "-p" + std::to_string(i), relation, i == 0));
    attendees.push_back(id + "-p" + std::to_string(i));
  }
  if (s.conference) {
    ev.push_back(testing::CoordinatorAssignedEvent(id + "-coord"));
    attendees.push_back(id + "-coord");
    attendees.push_back(id + "-pro");
    ev.push_back(testing::ConferenceHeldEvent(attendees));
  }
  for (v1::OutcomeType t : s.outcomes) ev.push_back(testing::OutcomeRecordedEvent(t, s.children));
  return ev;
}

class RecombinationTest : public ::testing::Test {
 protected:
  // The audit assumes an attacker who knows every exact relation (decision
  // 15, docs/research.md): the answers are attacked on their exact figures,
  // without the cell key perturbation that would blur the relations.
  const projections::ExactFiguresForTesting exact_;

  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }

  void AddMany(const std::string& prefix, int n, const Spec& spec) {
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + "-" + std::to_string(i);
      auto r = store_->Append(testing::Batch(id, Events(id, spec)));
      ASSERT_TRUE(r.ok()) << id << ": " << r.status();
    }
  }

  template <typename Model>
  std::unique_ptr<ProjectionEngine> Rebuilt() {
    ProjectionOptions options;
    options.path = dir_.Sub(std::string("model-") + Model::kName + std::to_string(++engines_));
    auto engine =
        ProjectionEngine::Open(options, std::make_unique<Model>(kring::testing::TestCellKeySecret()), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    EXPECT_TRUE((*engine)->CatchUpFromStore().ok());
    return std::move(engine).value();
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  int engines_ = 0;
};

template <typename Request>
Request With(v1::Grouping g, uint32_t k) {
  Request r;
  r.set_group_by(g);
  r.mutable_disclosure()->set_min_cell_size(k);
  return r;
}

const v1::HistogramBin* Bin(const v1::NetworkSizeStats& s, uint32_t size) {
  for (const v1::HistogramBin& b : s.histogram()) {
    if (b.size() == size) return &b;
  }
  return nullptr;
}

// 20 conferences of 5 attendees, one of 3 and one of 8: the bins of 3 and 8
// hold one conference each. With n = 22 and the mean (111 / 22) published,
// "the bins add up to n" and "size x bin adds up to mean x n" are two
// equations in the two blanks: 3 b3 + 8 b8 = 11, b3 + b8 = 2.
TEST_F(RecombinationTest, TwoOneConferenceBinsAreNotSolvedFromTheMeanAndTheCount) {
  AddMany("five", 20, Spec{.network = 5});
  AddMany("three", 1, Spec{.network = 3});
  AddMany("eight", 1, Spec{.network = 8});
  auto engine = Rebuilt<NetworkSizeProjection>();
  auto r = QueryNetworkSize(*engine, With<v1::NetworkSizeRequest>(v1::GROUPING_UNSPECIFIED, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::NetworkSizeStats& s = r->overall();
  ASSERT_TRUE(s.has_conferences());
  EXPECT_EQ(s.conferences(), 22u);
  ASSERT_TRUE(s.has_mean());
  EXPECT_DOUBLE_EQ(s.mean(), 111.0 / 22);
  ASSERT_NE(Bin(s, 3), nullptr);
  ASSERT_NE(Bin(s, 8), nullptr);
  EXPECT_EQ(Bin(s, 3)->suppression(), v1::SUPPRESSION_PRIMARY);
  EXPECT_EQ(Bin(s, 8)->suppression(), v1::SUPPRESSION_PRIMARY);
  // The bin of 5 is the complement: the two equations now have three unknowns.
  EXPECT_EQ(Bin(s, 5)->suppression(), v1::SUPPRESSION_SECONDARY);
  const std::vector<std::string> leaks = Attack(*r, 10);
  EXPECT_TRUE(leaks.empty()) << Join(leaks);
  ExpectReportCountsTheSuppressedFields(*r, "network size");
}

// Three municipalities: GM0363 with 12 conferences of four (FAMILY, FAMILY,
// FRIEND, FAMILY), GM0599 with 10 of four and 10 of two (no friend), GM0014
// with 3 of four. GM0014's row is suppressed (3 conferences), its friends'
// attendees too. Counts alone pick different complements for the row totals
// (GM0363's 12) and for the friends' column (GM0599's 10), so GM0599's mean
// stays published: mean x n minus its family's attendees would give its
// friends' attendees, and the overall friends minus GM0363's and GM0599's
// would give GM0014's. Within a row the relations add up to mean x n, and over
// the municipalities each relation adds up to the overall row.
TEST_F(RecombinationTest, ACompositionCellOfASmallMunicipalityIsNotTheOverallMinusTheOthers) {
  AddMany("a", 12, Spec{.municipality = "GM0363"});
  AddMany("b", 10, Spec{.municipality = "GM0599"});
  AddMany("b2", 10, Spec{.municipality = "GM0599", .network = 2});
  AddMany("c", 3, Spec{.municipality = "GM0014"});
  auto engine = Rebuilt<NetworkSizeProjection>();
  for (uint32_t k : {5u, 10u}) {
    auto r = QueryNetworkSize(*engine, With<v1::NetworkSizeRequest>(v1::GROUPING_MUNICIPALITY, k));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->groups_size(), 3);
    const v1::NetworkSizeStats& small = r->groups(0).stats();  // GM0014 sorts first
    ASSERT_EQ(r->groups(0).key(), "GM0014");
    EXPECT_EQ(small.suppression(), v1::SUPPRESSION_PRIMARY);
    for (const v1::RelationShare& share : small.composition()) {
      EXPECT_FALSE(share.has_attendees()) << k;
      EXPECT_NE(share.suppression(), v1::SUPPRESSION_NONE) << k;
    }
    // The overall row stays published.
    EXPECT_TRUE(r->overall().has_conferences());
    EXPECT_TRUE(r->overall().has_mean());
    const std::vector<std::string> leaks = Attack(*r, k);
    EXPECT_TRUE(leaks.empty()) << "k " << k << ": " << Join(leaks);
    ExpectReportCountsTheSuppressedFields(*r, "network size k " + std::to_string(k));
  }
}

// Three municipalities with 20 youth-protection conference cases each and 3,
// 6 and 8 multi-problem ones: the domain savings (EUR 48,000 per
// multi-problem conference case) divided by 48,000 would give 3, 6 and 8.
TEST_F(RecombinationTest, DomainSavingsDoNotDivideBackToASmallNumberOfCases) {
  const std::vector<std::pair<std::string, int>> municipalities = {{"GM0363", 3}, {"GM0599", 6}, {"GM0014", 8}};
  for (const auto& [m, multi] : municipalities) {
    AddMany("yp" + m, 20, Spec{.municipality = m});
    AddMany("mp" + m, multi, Spec{.domain = v1::DOMAIN_MULTI_PROBLEM, .municipality = m});
  }
  auto engine = Rebuilt<OutcomesProjection>();
  auto r = QueryCostBenefit(*engine, With<v1::CostBenefitRequest>(v1::GROUPING_MUNICIPALITY, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->groups_size(), 3);
  for (const v1::CostBenefitGroup& g : r->groups()) {
    EXPECT_TRUE(g.has_conferences()) << g.key();
    EXPECT_FALSE(g.has_domain_savings_cents()) << g.key();
    EXPECT_EQ(g.domain_savings_suppression(), v1::SUPPRESSION_PRIMARY) << g.key();
    EXPECT_FALSE(g.has_gross_savings_cents()) << g.key();
    EXPECT_FALSE(g.has_net_savings_cents()) << g.key();
  }
  // 17 multi-problem cases overall: published.
  ASSERT_TRUE(r->overall().has_domain_savings_cents());
  EXPECT_EQ(r->overall().domain_savings_cents(), 17 * 4800000);
  const std::vector<std::string> leaks = Attack(*r, 10);
  EXPECT_TRUE(leaks.empty()) << Join(leaks);
  ExpectReportCountsTheSuppressedFields(*r, "cost-benefit");
}

// A saving line of 3 cases is suppressed; the attacker has every other line,
// the domain savings, the conference costs and, if they were published,
// gross and net: gross - the other lines - the domain savings would be the
// line's amount, and that divided by its price its cases.
TEST_F(RecombinationTest, GrossAndNetDoNotGiveASuppressedLineBack) {
  AddMany("a", 20, Spec{.outcomes = {v1::OUTCOME_TYPE_PLACEMENT_PREVENTED}, .children = 2});
  AddMany("b", 3, Spec{.outcomes = {v1::OUTCOME_TYPE_EVICTION_PREVENTED}});
  AddMany("c", 10, Spec{});  // so that 20 of 33 is not a nested difference under k
  auto engine = Rebuilt<OutcomesProjection>();
  auto r = QueryCostBenefit(*engine, With<v1::CostBenefitRequest>(v1::GROUPING_UNSPECIFIED, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->overall().has_conferences());
  ASSERT_EQ(r->overall().lines_size(), 4);
  EXPECT_TRUE(r->overall().lines(0).has_savings_cents());                   // PLACEMENT_PREVENTED
  EXPECT_EQ(r->overall().lines(3).suppression(), v1::SUPPRESSION_PRIMARY);  // EVICTION_PREVENTED
  EXPECT_FALSE(r->overall().has_gross_savings_cents());
  EXPECT_FALSE(r->overall().has_net_savings_cents());
  const std::vector<std::string> leaks = Attack(*r, 10);
  EXPECT_TRUE(leaks.empty()) << Join(leaks);
  ExpectReportCountsTheSuppressedFields(*r, "cost-benefit");
}

// Nothing under k in any published field: the report says 0 and 0. (Three
// cases with an outcome the model does not price, OTS_PREVENTED, are a count
// no field shows: it used to be counted as 1 primary and 1 secondary.)
TEST_F(RecombinationTest, CostBenefitWithNothingSuppressedReportsNothingSuppressed) {
  AddMany("a", 20, Spec{.outcomes = {v1::OUTCOME_TYPE_PLACEMENT_PREVENTED}, .children = 2});
  AddMany("b", 3, Spec{.outcomes = {v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, v1::OUTCOME_TYPE_OTS_PREVENTED}});
  auto engine = Rebuilt<OutcomesProjection>();
  for (v1::Grouping g : {v1::GROUPING_UNSPECIFIED, v1::GROUPING_YEAR, v1::GROUPING_MUNICIPALITY}) {
    auto r = QueryCostBenefit(*engine, With<v1::CostBenefitRequest>(g, 10));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->disclosure().primary_cells(), 0u) << r->DebugString();
    EXPECT_EQ(r->disclosure().secondary_cells(), 0u) << r->DebugString();
    ExpectReportCountsTheSuppressedFields(*r, "cost-benefit");
    EXPECT_TRUE(r->overall().has_gross_savings_cents());
    EXPECT_TRUE(r->overall().has_net_savings_cents());
    EXPECT_EQ(r->overall().gross_savings_cents(), (20 * 2 + 3 * 1) * 2080000);  // children, at 20,800 each
    EXPECT_TRUE(Attack(*r, 10).empty());
  }
}

// Every RPC, every grouping, k 5 and 10, over a cohort with small cells in
// every answer: the report counts exactly the suppressed fields, and the
// attacker recovers nothing from network size and cost–benefit.
TEST_F(RecombinationTest, EveryAnswersReportCountsExactlyItsSuppressedFields) {
  AddMany("a", 12, Spec{.municipality = "GM0363", .outcomes = {v1::OUTCOME_TYPE_PLACEMENT_PREVENTED}});
  AddMany("b", 15,
          Spec{.domain = v1::DOMAIN_MULTI_PROBLEM,
               .municipality = "GM0599",
               .network = 7,
               .outcomes = {v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK}});
  AddMany("c", 3, Spec{.municipality = "GM0014", .network = 2, .outcomes = {v1::OUTCOME_TYPE_OTS_PREVENTED}});
  AddMany("d", 4, Spec{.domain = v1::DOMAIN_HOUSING, .municipality = "GM0599", .conference = false});
  AddMany("e", 2,
          Spec{.municipality = "GM0363",
               .network = 33,
               .relations = {v1::RELATION_NEIGHBOUR, v1::RELATION_FAMILY, v1::RELATION_COMMUNITY}});
  auto network = Rebuilt<NetworkSizeProjection>();
  auto outcomes = Rebuilt<OutcomesProjection>();
  auto funnel = Rebuilt<FunnelProjection>();
  auto support = Rebuilt<SupportProjection>();
  int suppressing = 0;
  for (v1::Grouping g : {v1::GROUPING_UNSPECIFIED, v1::GROUPING_DOMAIN, v1::GROUPING_MUNICIPALITY,
                         v1::GROUPING_LEGAL_FRAMEWORK, v1::GROUPING_YEAR}) {
    for (uint32_t k : {5u, 10u}) {
      const std::string what = v1::Grouping_Name(g) + " k " + std::to_string(k);
      auto n = QueryNetworkSize(*network, With<v1::NetworkSizeRequest>(g, k));
      ASSERT_TRUE(n.ok()) << n.status();
      ExpectReportCountsTheSuppressedFields(*n, "network size " + what);
      EXPECT_TRUE(Attack(*n, k).empty()) << "network size " << what << ": " << Join(Attack(*n, k));
      auto o = QueryOutcomes(*outcomes, With<v1::OutcomesRequest>(g, k));
      ASSERT_TRUE(o.ok()) << o.status();
      ExpectReportCountsTheSuppressedFields(*o, "outcomes " + what);
      auto c = QueryCostBenefit(*outcomes, With<v1::CostBenefitRequest>(g, k));
      ASSERT_TRUE(c.ok()) << c.status();
      ExpectReportCountsTheSuppressedFields(*c, "cost-benefit " + what);
      EXPECT_TRUE(Attack(*c, k).empty()) << "cost-benefit " << what << ": " << Join(Attack(*c, k));
      auto f = QueryFunnel(*funnel, With<v1::FunnelRequest>(g, k));
      ASSERT_TRUE(f.ok()) << f.status();
      ExpectReportCountsTheSuppressedFields(*f, "funnel " + what);
      auto s = QuerySupport(*support, With<v1::SupportRequest>(g, k));
      ASSERT_TRUE(s.ok()) << s.status();
      ExpectReportCountsTheSuppressedFields(*s, "support " + what);
      suppressing += n->disclosure().primary_cells() > 0;
      suppressing += c->disclosure().primary_cells() > 0;
      suppressing += f->disclosure().primary_cells() > 0;
    }
  }
  EXPECT_GT(suppressing, 20);  // not vacuous
}

}  // namespace
}  // namespace kring::projections
