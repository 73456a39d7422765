#include "projections/disclosure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace kring::projections {
namespace {

using Part = TableElement::Part;

// The mask as a picture: one line per row, its cells then "|" and the row
// total; a last line with the column totals, "|" and the grand total. "." is
// published, "P" primary, "S" secondary.
std::string Picture(const SuppressionMask& m) {
  auto ch = [](Suppression s) { return s == Suppression::kNone ? '.' : s == Suppression::kPrimary ? 'P' : 'S'; };
  std::string out;
  for (size_t r = 0; r < m.rows; ++r) {
    for (size_t c = 0; c < m.cols; ++c) out += ch(m.cell(r, c));
    out += '|';
    out += ch(m.row_totals[r]);
    out += '\n';
  }
  for (size_t c = 0; c < m.cols; ++c) out += ch(m.col_totals[c]);
  out += '|';
  out += ch(m.grand_total);
  return out;
}

std::string Describe(const std::vector<Recomputed>& found) {
  std::string out;
  for (const Recomputed& r : found) out += DebugString(r.element) + "=" + std::to_string(r.value) + " ";
  return out;
}

// An exact fraction, always in lowest terms with a positive denominator.
// The audit's numbers stay tiny (coefficients of sums of counts), so int64
// does not overflow.
struct Fraction {
  int64_t num = 0;
  int64_t den = 1;

  static Fraction Of(int64_t n, int64_t d = 1) {
    if (d < 0) n = -n, d = -d;
    const int64_t g = std::gcd(n < 0 ? -n : n, d);
    return {n / g, d / g};
  }
  bool zero() const { return num == 0; }
  Fraction operator-(const Fraction& o) const { return Of(num * o.den - o.num * den, den * o.den); }
  Fraction operator*(const Fraction& o) const { return Of(num * o.num, den * o.den); }
  Fraction operator/(const Fraction& o) const { return Of(num * o.den, den * o.num); }
};

// The rank of `m` by Gaussian elimination over the rationals.
size_t Rank(std::vector<std::vector<Fraction>> m) {
  size_t rank = 0;
  const size_t cols = m.empty() ? 0 : m[0].size();
  for (size_t c = 0; c < cols && rank < m.size(); ++c) {
    size_t p = rank;
    while (p < m.size() && m[p][c].zero()) ++p;
    if (p == m.size()) continue;
    std::swap(m[p], m[rank]);
    for (size_t r = rank + 1; r < m.size(); ++r) {
      if (m[r][c].zero()) continue;
      const Fraction f = m[r][c] / m[rank][c];
      for (size_t k = c; k < cols; ++k) m[r][k] = m[r][k] - f * m[rank][k];
    }
    ++rank;
  }
  return rank;
}

// The blanks of `published` that its equations determine, found independently
// of disclosure.cc (which shares Determined() between Suppress and
// FindRecomputable(kLinear)): the equations are written out here from what the
// table publishes (its margins, and its further equations with their
// coefficients), and a blank x is determined iff its unit vector lies in the
// row space of the equations' coefficients on the blanks, i.e. iff appending
// that unit vector does not raise the rank. Ranks over exact fractions.
// Every blank counts here, hidden ones and extras included: Disclosing()
// keeps those that disclose.
std::vector<TableElement> IndependentlyDetermined(const PublishedTable& p) {
  using Part = TableElement::Part;
  // Every number of the table with whether it is blank, in the order of
  // CountTable's indices (cells, row totals, column totals, grand, extras).
  std::vector<TableElement> elements;
  std::vector<bool> blank;
  for (size_t r = 0; r < p.rows; ++r) {
    for (size_t c = 0; c < p.cols; ++c) {
      elements.push_back({Part::kCell, r, c});
      blank.push_back(!p.cells[r * p.cols + c].has_value());
    }
  }
  for (size_t r = 0; r < p.rows; ++r) {
    elements.push_back({Part::kRowTotal, r, 0});
    blank.push_back(!p.row_totals[r].has_value());
  }
  for (size_t c = 0; c < p.cols; ++c) {
    elements.push_back({Part::kColTotal, 0, c});
    blank.push_back(!p.col_totals[c].has_value());
  }
  elements.push_back({Part::kGrandTotal, 0, 0});
  blank.push_back(!p.grand_total.has_value());
  for (size_t i = 0; i < p.extras.size(); ++i) {
    elements.push_back({Part::kExtra, i, 0});
    blank.push_back(!p.extras[i].has_value());
  }
  auto index = [&](const TableElement& e) {
    return static_cast<size_t>(std::find(elements.begin(), elements.end(), e) - elements.begin());
  };

  // The equations, as coefficients over every number: parts minus whole.
  std::vector<std::vector<int64_t>> equations;
  auto add = [&](const std::vector<TableElement>& parts, const TableElement& whole) {
    std::vector<int64_t> eq(elements.size(), 0);
    for (const TableElement& e : parts) eq[index(e)] += 1;
    eq[index(whole)] -= 1;
    equations.push_back(std::move(eq));
  };
  if (p.additive_rows) {  // each row sums to its total; the column totals to the grand total
    std::vector<TableElement> col_totals;
    for (size_t c = 0; c < p.cols; ++c) col_totals.push_back({Part::kColTotal, 0, c});
    for (size_t r = 0; r < p.rows; ++r) {
      std::vector<TableElement> row;
      for (size_t c = 0; c < p.cols; ++c) row.push_back({Part::kCell, r, c});
      add(row, {Part::kRowTotal, r, 0});
    }
    add(col_totals, {Part::kGrandTotal, 0, 0});
  }
  if (p.additive_cols) {  // each column sums to its total; the row totals to the grand total
    std::vector<TableElement> row_totals;
    for (size_t r = 0; r < p.rows; ++r) row_totals.push_back({Part::kRowTotal, r, 0});
    for (size_t c = 0; c < p.cols; ++c) {
      std::vector<TableElement> col;
      for (size_t r = 0; r < p.rows; ++r) col.push_back({Part::kCell, r, c});
      add(col, {Part::kColTotal, 0, c});
    }
    add(row_totals, {Part::kGrandTotal, 0, 0});
  }
  for (const Equation& e : p.equations) {  // indices are the elements' positions
    std::vector<int64_t> eq(elements.size(), 0);
    for (const auto& [i, c] : e.terms) eq[i] += c;
    equations.push_back(std::move(eq));
  }

  // Coefficients on the blanks only (the published numbers are constants).
  std::vector<size_t> blanks;
  for (size_t i = 0; i < elements.size(); ++i) {
    if (blank[i]) blanks.push_back(i);
  }
  std::vector<std::vector<Fraction>> a;
  for (const auto& eq : equations) {
    std::vector<Fraction> row;
    for (size_t i : blanks) row.push_back(Fraction::Of(eq[i]));
    a.push_back(std::move(row));
  }
  const size_t rank = Rank(a);
  std::vector<TableElement> out;
  for (size_t j = 0; j < blanks.size(); ++j) {
    std::vector<std::vector<Fraction>> with_unit = a;
    std::vector<Fraction> unit(blanks.size());
    unit[j] = Fraction::Of(1);
    with_unit.push_back(std::move(unit));
    if (Rank(std::move(with_unit)) == rank) out.push_back(elements[blanks[j]]);
  }
  return out;
}

// Of `determined` (blanks of `published`, the publication of `table`), those
// whose recomputation discloses: a blanked count that the answer would show,
// a hidden count of 1..k-1, a non-zero extra whose count is blank.
std::vector<TableElement> Disclosing(const CountTable& table, const PublishedTable& published,
                                     const std::vector<TableElement>& determined, uint32_t k = 10) {
  std::vector<TableElement> out;
  auto hidden = [&](size_t col) { return col < table.hidden_cols.size() && table.hidden_cols[col]; };
  auto blank_count = [&](size_t index) {
    if (index < table.rows * table.cols) return !published.cells[index].has_value();
    index -= table.rows * table.cols;
    if (index < table.rows) return !published.row_totals[index].has_value();
    index -= table.rows;
    if (index < table.cols) return !published.col_totals[index].has_value();
    return !published.grand_total.has_value();
  };
  for (const TableElement& e : determined) {
    uint64_t value = 0;
    bool is_hidden = false;
    switch (e.part) {
      case Part::kExtra:  // a sum of zero is what the zero bins say already
        if (table.extras[e.row].value != 0 && blank_count(table.extras[e.row].follows)) out.push_back(e);
        continue;
      case Part::kCell:
        value = table.cell(e.row, e.col);
        is_hidden = hidden(e.col);
        break;
      case Part::kColTotal:
        value = table.col_totals[e.col];
        is_hidden = hidden(e.col);
        break;
      case Part::kRowTotal:
        value = table.row_totals[e.row];
        break;
      case Part::kGrandTotal:
        value = table.grand_total;
        break;
    }
    if (!is_hidden || (value > 0 && value < k)) out.push_back(e);
  }
  return out;
}

std::string Describe(const std::vector<TableElement>& found) {
  std::string out;
  for (const TableElement& e : found) out += DebugString(e) + " ";
  return out;
}

// Suppresses, and checks that no audit can recompute a blank: the simple
// single-unknown audit and the independent linear one above.
SuppressionMask SuppressAndAudit(const CountTable& table, const DisclosureOptions& options = {}) {
  absl::StatusOr<SuppressionMask> mask = Suppress(table, options);
  EXPECT_TRUE(mask.ok()) << mask.status();
  if (!mask.ok()) return {};
  const PublishedTable published = Publish(table, *mask);
  EXPECT_TRUE(FindRecomputable(published, Audit::kSingleUnknown, options.min_cell_size).empty())
      << Describe(FindRecomputable(published, Audit::kSingleUnknown, options.min_cell_size)) << "\n"
      << Picture(*mask);
  const std::vector<TableElement> disclosing =
      Disclosing(table, published, IndependentlyDetermined(published), options.min_cell_size);
  EXPECT_TRUE(disclosing.empty()) << "determined: " << Describe(disclosing) << "\n" << Picture(*mask);
  return *mask;
}

TEST(DisclosureTest, CellOfThreeCasesIsSuppressedWithComplementsSoNoMarginRevealsIt) {
  const CountTable table = AdditiveTable(3, 3,
                                         {3, 12, 20,   //
                                          15, 11, 30,  //
                                          25, 40, 14});
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(mask.cell(0, 0), Suppression::kPrimary);
  // Row 0's smallest other cell (12), column 0's (15), and then column 1,
  // left with a lone blank, its smallest other cell (11): a 2 x 2 cycle.
  EXPECT_EQ(mask.cell(0, 1), Suppression::kSecondary);
  EXPECT_EQ(mask.cell(1, 0), Suppression::kSecondary);
  EXPECT_EQ(mask.cell(1, 1), Suppression::kSecondary);
  EXPECT_EQ(Picture(mask),
            "PS.|.\n"
            "SS.|.\n"
            "...|.\n"
            "...|.");
  // Every margin stays published.
  EXPECT_FALSE(mask.grand_total_suppressed());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(mask.row_total_suppressed(i));
    EXPECT_FALSE(mask.col_total_suppressed(i));
  }
  EXPECT_TRUE(mask.any());
}

// A caller's forced suppression (a count whose difference from a count that
// contains it is under k) is primary, whatever it counts, and gets its
// complements like any other; a forced zero stays published.
TEST(DisclosureTest, ForcedCellsArePrimaryWithComplementsAndZerosStayPublished) {
  CountTable table = AdditiveTable(3, 3,
                                   {30, 12, 20,  //
                                    15, 11, 0,   //
                                    25, 40, 14});
  table.forced_cells = {true,  false, false,  //
                        false, false, true,   //
                        false, false, false};
  table.forced_col_totals = {false, false, true};
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(mask.cell(0, 0), Suppression::kPrimary);
  EXPECT_EQ(mask.cell(1, 2), Suppression::kNone);  // a zero
  EXPECT_EQ(mask.col_totals[2], Suppression::kPrimary);
  // Row 0 and column 0 each need a second blank; the forced column total
  // needs one among the other column totals.
  size_t row0 = 0, col0 = 0;
  for (size_t c = 0; c < 3; ++c) row0 += mask.suppressed(0, c);
  for (size_t r = 0; r < 3; ++r) col0 += mask.suppressed(r, 0);
  EXPECT_GE(row0, 2u);
  EXPECT_GE(col0, 2u);
  size_t col_totals = 0;
  for (size_t c = 0; c < 3; ++c) col_totals += mask.col_total_suppressed(c);
  EXPECT_GE(col_totals + (mask.grand_total_suppressed() ? 1 : 0), 2u);
}

TEST(DisclosureTest, AuditRecomputesALoneBlankFromItsRowTotal) {
  const CountTable table = AdditiveTable(2, 2, {3, 12, 15, 11});
  SuppressionMask primary_only;
  primary_only.rows = primary_only.cols = 2;
  primary_only.cells = {Suppression::kPrimary, Suppression::kNone, Suppression::kNone, Suppression::kNone};
  primary_only.row_totals = primary_only.col_totals = {Suppression::kNone, Suppression::kNone};
  const PublishedTable published = Publish(table, primary_only);
  for (Audit audit : {Audit::kSingleUnknown, Audit::kLinear}) {
    const std::vector<Recomputed> found = FindRecomputable(published, audit);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].element, (TableElement{Part::kCell, 0, 0}));
    EXPECT_EQ(found[0].value, 3);
  }
  EXPECT_EQ(IndependentlyDetermined(published), (std::vector<TableElement>{{Part::kCell, 0, 0}}));
}

TEST(DisclosureTest, LinearAuditFindsABlankLinkingTwoCyclesThatSingleUnknownAuditMisses) {
  // Two 2 x 2 cycles of blanks joined by cell (1,2): every row and column has
  // none or at least two blanks, yet rows 0-1 minus columns 0-1 give (1,2).
  CountTable table = AdditiveTable(4, 4,
                                   {20, 21, 22, 23,  //
                                    24, 25, 26, 27,  //
                                    28, 29, 30, 31,  //
                                    32, 33, 34, 35});
  PublishedTable published = Publish(table, *Suppress(table, {}));
  for (auto [r, c] :
       std::vector<std::pair<size_t, size_t>>{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 2}, {2, 3}, {3, 2}, {3, 3}, {1, 2}}) {
    published.cells[r * 4 + c].reset();
  }
  EXPECT_TRUE(FindRecomputable(published, Audit::kSingleUnknown).empty());
  const std::vector<Recomputed> found = FindRecomputable(published, Audit::kLinear);
  ASSERT_EQ(found.size(), 1u) << Describe(found);
  EXPECT_EQ(found[0].element, (TableElement{Part::kCell, 1, 2}));
  EXPECT_EQ(found[0].value, 26);
  EXPECT_EQ(IndependentlyDetermined(published), (std::vector<TableElement>{{Part::kCell, 1, 2}}));
}

TEST(DisclosureTest, MinCellSizeBelowFiveIsRefusedNamingTheField) {
  DisclosureOptions options;
  options.min_cell_size = 3;
  const absl::Status status = ValidateDisclosure(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "disclosure.min_cell_size: must be at least 5, got 3");
  const absl::StatusOr<SuppressionMask> mask = Suppress(AdditiveTable(1, 1, {20}), options);
  EXPECT_EQ(mask.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mask.status().message(), "disclosure.min_cell_size: must be at least 5, got 3");
}

TEST(DisclosureTest, MinCellSizeFiveIsAllowedAndTenIsTheDefault) {
  EXPECT_EQ(DisclosureOptions{}.min_cell_size, 10u);
  EXPECT_TRUE(ValidateDisclosure(DisclosureOptions{}).ok());
  DisclosureOptions five;
  five.min_cell_size = 5;
  EXPECT_TRUE(ValidateDisclosure(five).ok());
}

TEST(DisclosureTest, ZerosArePublishedCellsOfKArePublishedCellsOfKMinusOneSuppressed) {
  // Non-additive margins (large enough not to be suppressed): only the
  // primary rule is at work.
  CountTable table;
  table.rows = 1;
  table.cols = 6;
  table.cells = {0, 9, 10, 1, 4, 5};
  table.row_totals = {100};
  table.col_totals = {0, 20, 30, 40, 50, 60};
  table.grand_total = 120;
  table.additive_rows = table.additive_cols = false;

  const SuppressionMask k10 = SuppressAndAudit(table);
  EXPECT_EQ(Picture(k10), ".P.PPP|.\n......|.");

  DisclosureOptions five;
  five.min_cell_size = 5;
  const SuppressionMask k5 = SuppressAndAudit(table, five);
  EXPECT_EQ(Picture(k5), "...PP.|.\n......|.");
  EXPECT_FALSE(k5.suppressed(0, 0));  // zero
  EXPECT_TRUE(k5.suppressed(0, 4));   // k - 1
  EXPECT_FALSE(k5.suppressed(0, 5));  // k
}

TEST(DisclosureTest, ZeroCellsAreNeverChosenAsComplements) {
  // Row 0 has a lone blank and only zeros besides: its total is blanked.
  const CountTable table = AdditiveTable(2, 3,
                                         {0, 4, 0,  //
                                          30, 40, 50});
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_FALSE(mask.suppressed(0, 0));
  EXPECT_FALSE(mask.suppressed(0, 2));
  EXPECT_EQ(mask.row_totals[0], Suppression::kPrimary);  // 4 < 10 on its own
  for (uint64_t v = 0; v < table.cells.size(); ++v) {
    if (table.cells[v] == 0) {
      EXPECT_EQ(mask.cells[v], Suppression::kNone);
    }
  }
}

TEST(DisclosureTest, RowTotalUnderKIsSuppressedWithAComplementAmongRowTotals) {
  const CountTable table = AdditiveTable(4, 2,
                                         {20, 30,  //
                                          25, 15,  //
                                          0, 7,    //
                                          40, 12});
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(mask.row_totals[2], Suppression::kPrimary);  // 7
  EXPECT_EQ(mask.cell(2, 1), Suppression::kPrimary);     // 7
  // The smallest other row total (40 of row 1; rows 0 and 3 have 50 and 52).
  EXPECT_EQ(mask.row_totals[1], Suppression::kSecondary);
  EXPECT_FALSE(mask.row_total_suppressed(0));
  EXPECT_FALSE(mask.row_total_suppressed(3));
  EXPECT_FALSE(mask.suppressed(2, 0));  // zero
  EXPECT_FALSE(mask.grand_total_suppressed());
}

TEST(DisclosureTest, SingleColumnTableSuppressesTheRowTotalWithItsCell) {
  const CountTable table = AdditiveTable(4, 1, {20, 7, 30, 15});
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(Picture(mask),
            ".|.\n"
            "P|P\n"
            ".|.\n"
            "S|S\n"
            ".|.");
}

TEST(DisclosureTest, SingleRowTableSuppressesTheColumnTotalWithItsCell) {
  const CountTable table = AdditiveTable(1, 4, {20, 7, 30, 15});
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(Picture(mask),
            ".P.S|.\n"
            ".P.S|.");
}

TEST(DisclosureTest, SingleCellTableUnderKBlanksEverything) {
  EXPECT_EQ(Picture(SuppressAndAudit(AdditiveTable(1, 1, {3}))), "P|P\nP|P");
  EXPECT_EQ(Picture(SuppressAndAudit(AdditiveTable(1, 1, {12}))), ".|.\n.|.");
  EXPECT_FALSE(SuppressAndAudit(AdditiveTable(1, 1, {0})).any());
}

TEST(DisclosureTest, ComplementsInRowsAndColumnsPropagateUntilStable) {
  const CountTable table = AdditiveTable(4, 4,
                                         {3, 11, 40, 40,   //
                                          40, 40, 12, 40,  //
                                          13, 40, 40, 40,  //
                                          40, 40, 40, 40});
  const SuppressionMask mask = SuppressAndAudit(table);
  // Row 0 takes 11, column 0 takes 13, column 1 (lone 11) takes (1,1), row 1
  // (lone (1,1)) takes 12, row 2 (lone 13) takes (2,1), column 2 (lone 12)
  // takes (0,2).
  EXPECT_EQ(Picture(mask),
            "PSS.|.\n"
            ".SS.|.\n"
            "SS..|.\n"
            "....|.\n"
            "....|.");
  // Stable: no row or column is left with a single blank.
  for (size_t r = 0; r < 4; ++r) {
    int blanks = 0;
    for (size_t c = 0; c < 4; ++c) blanks += mask.suppressed(r, c);
    EXPECT_NE(blanks, 1) << "row " << r;
  }
  for (size_t c = 0; c < 4; ++c) {
    int blanks = 0;
    for (size_t r = 0; r < 4; ++r) blanks += mask.suppressed(r, c);
    EXPECT_NE(blanks, 1) << "column " << c;
  }
}

TEST(DisclosureTest, NonAdditiveMarginsGetNoComplementButThePrimaryRule) {
  // A case can fall in several columns (or none): the margins are not sums.
  CountTable table;
  table.rows = 2;
  table.cols = 3;
  table.cells = {3, 20, 30, 25, 40, 15};
  table.row_totals = {8, 90};
  table.col_totals = {30, 70, 50};
  table.grand_total = 95;
  table.additive_rows = table.additive_cols = false;
  EXPECT_EQ(Picture(SuppressAndAudit(table)),
            "P..|P\n"
            "...|.\n"
            "...|.");

  // Columns additive, rows not: the complement goes into column 0 only.
  table.col_totals = {28, 60, 45};
  table.row_totals = {60, 90};
  table.grand_total = 150;
  table.additive_cols = true;
  EXPECT_EQ(Picture(SuppressAndAudit(table)),
            "P..|.\n"
            "S..|.\n"
            "...|.");
}

TEST(DisclosureTest, RefusesMarginsThatAreNotTheSumsTheyAreDeclaredToBe) {
  CountTable table = AdditiveTable(2, 2, {20, 30, 40, 50});
  table.row_totals[1] = 95;
  absl::StatusOr<SuppressionMask> mask = Suppress(table, {});
  EXPECT_EQ(mask.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mask.status().message(),
            "table.row_totals[1]: must be the sum of its row's cells (90) when additive_rows is set, got 95");

  table.additive_rows = false;
  // Rows still partition the cases: the grand total must be 50 + 95.
  mask = Suppress(table, {});
  EXPECT_EQ(mask.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mask.status().message(),
            "table.grand_total: must be the sum of the row totals (145) when additive_cols is set, got 140");
  table.grand_total = 145;
  EXPECT_TRUE(Suppress(table, {}).ok());
}

TEST(DisclosureTest, RefusesVectorsOfTheWrongSize) {
  CountTable table = AdditiveTable(2, 2, {20, 30, 40, 50});
  table.cells.pop_back();
  EXPECT_EQ(Suppress(table, {}).status().message(), "table.cells: must hold rows * cols = 4 counts, got 3");
}

// A small deterministic generator (std::uniform_int_distribution differs
// between standard libraries).
class Rng {
 public:
  explicit Rng(uint32_t seed) : gen_(seed) {}
  uint64_t Below(uint64_t n) { return gen_() % n; }

 private:
  std::mt19937 gen_;
};

TEST(DisclosureTest, RandomTablesAreNeverRecomputableAndEverySmallCountIsSuppressed) {
  Rng rng(20240611);
  int tables_with_primary = 0;
  int tables_with_secondary = 0;
  for (int n = 0; n < 500; ++n) {
    const size_t rows = 1 + rng.Below(6);
    const size_t cols = 1 + rng.Below(6);
    std::vector<uint64_t> cells(rows * cols);
    for (uint64_t& v : cells) v = rng.Below(31);
    CountTable table = AdditiveTable(rows, cols, cells);
    // One table in four with a direction that does not add up: its margins
    // hold more cases than its cells (cases in no column, say).
    if (rng.Below(4) == 0) {
      table.additive_rows = rng.Below(2) == 0;
      table.additive_cols = !table.additive_rows && rng.Below(2) == 0;
      if (!table.additive_rows) {
        for (uint64_t& v : table.row_totals) v += rng.Below(6);
      }
      if (!table.additive_cols) {
        for (uint64_t& v : table.col_totals) v += rng.Below(6);
      }
      uint64_t sum_rows = 0, sum_cols = 0;
      for (uint64_t v : table.row_totals) sum_rows += v;
      for (uint64_t v : table.col_totals) sum_cols += v;
      table.grand_total = table.additive_rows   ? sum_cols
                          : table.additive_cols ? sum_rows
                                                : std::max(sum_rows, sum_cols) + rng.Below(6);
    }
    DisclosureOptions options;
    options.min_cell_size = static_cast<uint32_t>(5 + 5 * rng.Below(3));  // 5, 10 or 15
    SCOPED_TRACE(::testing::Message() << "table " << n << ": " << rows << " x " << cols << ", k "
                                      << options.min_cell_size << ", additive rows " << table.additive_rows << " cols "
                                      << table.additive_cols);

    const SuppressionMask mask = SuppressAndAudit(table, options);
    ASSERT_EQ(mask.cells.size(), cells.size());
    const uint64_t k = options.min_cell_size;
    auto check = [&](uint64_t value, Suppression s, const std::string& what) {
      if (value > 0 && value < k) {
        EXPECT_EQ(s, Suppression::kPrimary) << what << " = " << value;
      } else {
        EXPECT_NE(s, Suppression::kPrimary) << what << " = " << value;
      }
      if (value == 0) {
        EXPECT_EQ(s, Suppression::kNone) << what << " is zero";
      }
    };
    for (size_t i = 0; i < cells.size(); ++i) check(cells[i], mask.cells[i], "cell " + std::to_string(i));
    for (size_t r = 0; r < rows; ++r) check(table.row_totals[r], mask.row_totals[r], "row total " + std::to_string(r));
    for (size_t c = 0; c < cols; ++c) check(table.col_totals[c], mask.col_totals[c], "col total " + std::to_string(c));
    check(table.grand_total, mask.grand_total, "grand total");

    bool primary = false, secondary = false;
    for (Suppression s : mask.cells) {
      primary |= s == Suppression::kPrimary;
      secondary |= s == Suppression::kSecondary;
    }
    tables_with_primary += primary;
    tables_with_secondary += secondary;
  }
  // The property is not vacuous.
  EXPECT_GT(tables_with_primary, 250);
  EXPECT_GT(tables_with_secondary, 150);
}

// The product's linear audit (FindRecomputable(kLinear), the Determined() that
// Suppress relies on) finds exactly the blanks the independent audit finds,
// on random blankings that Suppress did not choose: many of them leak.
TEST(DisclosureTest, LinearAuditAgreesWithAnIndependentRankCheckOnRandomBlankings) {
  Rng rng(20261204);
  int leaking = 0;
  for (int n = 0; n < 400; ++n) {
    const size_t rows = 1 + rng.Below(5);
    const size_t cols = 1 + rng.Below(5);
    std::vector<uint64_t> cells(rows * cols);
    for (uint64_t& v : cells) v = rng.Below(40);
    CountTable table = AdditiveTable(rows, cols, cells);
    table.additive_rows = rng.Below(4) != 0;
    table.additive_cols = rng.Below(4) != 0;
    SuppressionMask mask;
    mask.rows = rows;
    mask.cols = cols;
    auto random_blanks = [&](size_t count) {
      std::vector<Suppression> out(count);
      for (Suppression& s : out) s = rng.Below(3) == 0 ? Suppression::kPrimary : Suppression::kNone;
      return out;
    };
    mask.cells = random_blanks(rows * cols);
    mask.row_totals = random_blanks(rows);
    mask.col_totals = random_blanks(cols);
    mask.grand_total = rng.Below(3) == 0 ? Suppression::kPrimary : Suppression::kNone;
    const PublishedTable published = Publish(table, mask);
    std::vector<TableElement> product;
    for (const Recomputed& r : FindRecomputable(published, Audit::kLinear)) product.push_back(r.element);
    const std::vector<TableElement> independent = IndependentlyDetermined(published);
    EXPECT_EQ(Describe(product), Describe(independent)) << "table " << n << "\n" << Picture(mask);
    leaking += !independent.empty();
  }
  EXPECT_GT(leaking, 100);  // not vacuous
}

// ---------------------------------------------------------------------------
// Sums, weighted equations and hidden columns (issue 13)

// Rows partitioned into bins of sizes 0..cols-1 with, per row and overall,
// the sum of the sizes as an extra following the row's count ("attendees"
// = mean x n) and the equations the reader knows: sum(size x bin) = the sum,
// and the rows' sums add up to the overall one.
CountTable BinsWithSizes(size_t rows, size_t cols, std::vector<uint64_t> cells, std::vector<int64_t> sizes = {}) {
  CountTable t = AdditiveTable(rows, cols, std::move(cells));
  if (sizes.empty()) {
    for (size_t c = 0; c < cols; ++c) sizes.push_back(static_cast<int64_t>(c));
  }
  Equation column;
  for (size_t r = 0; r <= rows; ++r) {  // rows, then the overall row (index `rows`)
    const bool overall = r == rows;
    Equation eq;
    int64_t sum = 0;
    for (size_t c = 0; c < cols; ++c) {
      const size_t index = overall ? t.ColTotalIndex(c) : t.CellIndex(r, c);
      sum += sizes[c] * static_cast<int64_t>(overall ? t.col_totals[c] : t.cell(r, c));
      if (sizes[c] != 0) eq.terms.emplace_back(index, sizes[c]);
    }
    t.extras.push_back({sum, overall ? t.GrandTotalIndex() : t.RowTotalIndex(r), true});
    eq.terms.emplace_back(t.ExtraIndex(r), -1);
    t.equations.push_back(std::move(eq));
    column.terms.emplace_back(t.ExtraIndex(r), overall ? -1 : 1);
  }
  if (rows > 1) t.equations.push_back(std::move(column));
  return t;
}

// The histogram: 20 conferences of size 5, one of 3, one of 8. With
// n and the mean (the sum, 111) published, "bins add up to n" and "size x bin
// adds up to the sum" solve the two one-conference bins; only the exact
// linear audit sees it (every equation has two unknowns).
TEST(DisclosureTest, TwoSmallBinsAreSolvedFromTheCountAndTheSumOfSizesUnlessAThirdIsBlanked) {
  std::vector<uint64_t> bins(9, 0);
  bins[3] = 1;
  bins[5] = 20;
  bins[8] = 1;
  const CountTable table = BinsWithSizes(1, 9, bins);
  ASSERT_EQ(table.extras[1].value, 111);
  SuppressionMask primary_only;
  primary_only.rows = 1;
  primary_only.cols = 9;
  primary_only.cells.assign(9, Suppression::kNone);
  primary_only.col_totals.assign(9, Suppression::kNone);
  primary_only.row_totals = {Suppression::kNone};
  primary_only.extras.assign(2, Suppression::kNone);
  for (size_t c : {3, 8}) primary_only.cells[c] = primary_only.col_totals[c] = Suppression::kPrimary;
  const PublishedTable leaky = Publish(table, primary_only);
  EXPECT_TRUE(FindRecomputable(leaky, Audit::kSingleUnknown).empty());
  const std::vector<Recomputed> found = FindRecomputable(leaky, Audit::kLinear);
  EXPECT_EQ(Describe(found), "cell(0,3)=1 cell(0,8)=1 col_total[3]=1 col_total[8]=1 ");
  EXPECT_EQ(Describe(Disclosing(table, leaky, IndependentlyDetermined(leaky))),
            "cell(0,3) cell(0,8) col_total[3] col_total[8] ");

  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(mask.cell(0, 3), Suppression::kPrimary);
  EXPECT_EQ(mask.cell(0, 8), Suppression::kPrimary);
  // The only other non-zero bin (20) or the count itself joins them.
  EXPECT_TRUE(mask.suppressed(0, 5) || mask.grand_total_suppressed()) << Picture(mask);
}

// Three groups with two relations each (a conference can have both, so rows
// do not add up), each group's attendees (a sum following its count) and
// each relation's attendees (sums following the cells), with "the relations'
// attendees add up to the group's" and "the groups add up to the overall".
// Suppressed on its counts alone, the small group's relation is recomputable
// through the sums; with the equations, Suppress leaves nothing to recompute.
TEST(DisclosureTest, SumsFollowTheirCountsAndTheirEquationsGetComplementsToo) {
  CountTable table;
  table.rows = 3;
  table.cols = 2;  // conferences with an attendee of relation 0, of relation 1
  table.cells = {3, 3, 12, 12, 20, 10};
  table.row_totals = {3, 12, 20};
  table.col_totals = {35, 25};
  table.grand_total = 35;
  table.additive_rows = false;
  // Attendees by relation (three of relation 0 and one of relation 1 per
  // conference, in the groups' conferences with them) and in all.
  const std::vector<int64_t> by_relation = {9, 3, 36, 12, 60, 10};
  // Extras: per row r (0..2, then 3 = overall): 3r + 0 the row's attendees,
  // 3r + 1 and 3r + 2 its relations'.
  for (size_t r = 0; r <= 3; ++r) {
    const bool overall = r == 3;
    int64_t rel[2] = {0, 0};
    for (size_t c = 0; c < 2; ++c) {
      for (size_t g = 0; g < 3; ++g) {
        if (overall || g == r) rel[c] += by_relation[g * 2 + c];
      }
    }
    table.extras.push_back({rel[0] + rel[1], overall ? table.GrandTotalIndex() : table.RowTotalIndex(r), true});
    for (size_t c = 0; c < 2; ++c) {
      table.extras.push_back({rel[c], overall ? table.ColTotalIndex(c) : table.CellIndex(r, c), true});
    }
    table.equations.push_back(
        {{{table.ExtraIndex(3 * r + 1), 1}, {table.ExtraIndex(3 * r + 2), 1}, {table.ExtraIndex(3 * r), -1}}, 0});
  }
  for (size_t j = 0; j < 3; ++j) {
    table.equations.push_back({{{table.ExtraIndex(j), 1},
                                {table.ExtraIndex(3 + j), 1},
                                {table.ExtraIndex(6 + j), 1},
                                {table.ExtraIndex(9 + j), -1}},
                               0});
  }
  CountTable counts_only = table;
  counts_only.equations.clear();
  const absl::StatusOr<SuppressionMask> on_counts = Suppress(counts_only, {});
  ASSERT_TRUE(on_counts.ok()) << on_counts.status();
  const PublishedTable leaky = Publish(table, *on_counts);
  EXPECT_FALSE(FindRecomputable(leaky, Audit::kLinear).empty()) << Picture(*on_counts);
  EXPECT_FALSE(Disclosing(table, leaky, IndependentlyDetermined(leaky)).empty()) << Picture(*on_counts);

  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_EQ(mask.row_totals[0], Suppression::kPrimary);
  // Each extra takes its count's suppression.
  EXPECT_EQ(mask.extras[0], mask.row_totals[0]);
  EXPECT_EQ(mask.extras[4], mask.cell(1, 0));
  EXPECT_EQ(mask.extras[9], mask.grand_total);
}

// A column the answer never shows (conference cases of a domain without a
// domain saving) is an unknown of the row's equation "the domains add up to
// the cases": it must not be recomputable while it counts 1..k-1, and needs
// nothing once it counts k or more.
TEST(DisclosureTest, HiddenColumnsAreUnknownsProtectedOnlyUnderK) {
  for (uint64_t hidden_cases : {3u, 15u}) {
    CountTable table = AdditiveTable(1, 3, {20, hidden_cases, 0});
    table.hidden_cols = {false, true, true};
    const SuppressionMask mask = SuppressAndAudit(table);
    const PublishedTable published = Publish(table, mask);
    EXPECT_FALSE(published.cells[1].has_value());  // hidden, whatever it counts
    EXPECT_EQ(published.cells[2], uint64_t{0});    // a zero is known
    if (hidden_cases < 10) {
      EXPECT_TRUE(mask.suppressed(0, 0) || mask.grand_total_suppressed()) << Picture(mask);
    } else {
      EXPECT_FALSE(mask.any()) << Picture(mask);
    }
  }
  // Beside another hidden count of 15 the 3 is one of two unknowns of the
  // equation: nothing published needs to go (the answer does not lose its
  // figures to counts it never shows).
  CountTable table = AdditiveTable(1, 3, {20, 3, 15});
  table.hidden_cols = {false, true, true};
  const SuppressionMask mask = SuppressAndAudit(table);
  EXPECT_FALSE(mask.suppressed(0, 0)) << Picture(mask);
  EXPECT_FALSE(mask.col_total_suppressed(0)) << Picture(mask);
  EXPECT_FALSE(mask.grand_total_suppressed()) << Picture(mask);
}

TEST(DisclosureTest, RefusesExtrasAndEquationsThatDoNotFitTheTable) {
  CountTable table = BinsWithSizes(1, 3, {4, 0, 20});
  table.equations[0].constant = 1;
  EXPECT_EQ(Suppress(table, {}).status().message(),
            "table.equations[0]: must hold for the table's values: the terms add up to 0, not 1");
  table = BinsWithSizes(1, 3, {4, 0, 20});
  table.extras[0].follows = table.ExtraIndex(0);
  EXPECT_EQ(Suppress(table, {}).status().code(), absl::StatusCode::kInvalidArgument);
  table = BinsWithSizes(1, 3, {4, 0, 20});
  table.extras.push_back({5, table.CellIndex(0, 1), true});  // a sum over no units must be 0
  EXPECT_EQ(Suppress(table, {}).status().message(),
            "table.extras[2].value: must be 0 when the count it follows is 0, got 5");
}

TEST(DisclosureTest, RandomTablesWithSumsOfSizesAreNeverRecomputable) {
  Rng rng(20261205);
  int with_secondary = 0;
  for (int n = 0; n < 300; ++n) {
    const size_t rows = 1 + rng.Below(4);
    const size_t cols = 2 + rng.Below(5);
    std::vector<uint64_t> cells(rows * cols);
    for (uint64_t& v : cells) v = rng.Below(4) == 0 ? 0 : rng.Below(25);
    std::vector<int64_t> sizes(cols);
    for (int64_t& w : sizes) w = static_cast<int64_t>(rng.Below(8));
    CountTable table = BinsWithSizes(rows, cols, cells, sizes);
    if (rng.Below(3) == 0) table.hidden_cols.assign(cols, false), table.hidden_cols[rng.Below(cols)] = true;
    DisclosureOptions options;
    options.min_cell_size = static_cast<uint32_t>(5 + 5 * rng.Below(2));
    SCOPED_TRACE(::testing::Message() << "table " << n << ": " << rows << " x " << cols);
    const SuppressionMask mask = SuppressAndAudit(table, options);
    for (Suppression s : mask.cells) with_secondary += s == Suppression::kSecondary;
  }
  EXPECT_GT(with_secondary, 100);  // not vacuous
}

// The product's audit and the independent one agree on random blankings of
// tables with sums of sizes and hidden columns.
TEST(DisclosureTest, LinearAuditAgreesWithAnIndependentRankCheckWithSumsAndHiddenColumns) {
  Rng rng(20261206);
  int leaking = 0;
  for (int n = 0; n < 300; ++n) {
    const size_t rows = 1 + rng.Below(3);
    const size_t cols = 2 + rng.Below(4);
    std::vector<uint64_t> cells(rows * cols);
    for (uint64_t& v : cells) v = rng.Below(3) == 0 ? 0 : rng.Below(20);
    std::vector<int64_t> sizes(cols);
    for (int64_t& w : sizes) w = static_cast<int64_t>(rng.Below(6));
    CountTable table = BinsWithSizes(rows, cols, cells, sizes);
    if (rng.Below(2) == 0) table.hidden_cols.assign(cols, false), table.hidden_cols[rng.Below(cols)] = true;
    SuppressionMask mask;
    mask.rows = rows;
    mask.cols = cols;
    auto random_blanks = [&](size_t count) {
      std::vector<Suppression> out(count);
      for (Suppression& s : out) s = rng.Below(3) == 0 ? Suppression::kPrimary : Suppression::kNone;
      return out;
    };
    mask.cells = random_blanks(rows * cols);
    mask.row_totals = random_blanks(rows);
    mask.col_totals = random_blanks(cols);
    mask.grand_total = rng.Below(3) == 0 ? Suppression::kPrimary : Suppression::kNone;
    for (const Extra& e : table.extras) {
      const size_t f = e.follows;
      mask.extras.push_back(f < rows * cols                 ? mask.cells[f]
                            : f < rows * cols + rows        ? mask.row_totals[f - rows * cols]
                            : f < rows * cols + rows + cols ? mask.col_totals[f - rows * cols - rows]
                                                            : mask.grand_total);
    }
    const PublishedTable published = Publish(table, mask);
    std::vector<TableElement> product;
    for (const Recomputed& r : FindRecomputable(published, Audit::kLinear)) product.push_back(r.element);
    const std::vector<TableElement> independent = Disclosing(table, published, IndependentlyDetermined(published));
    EXPECT_EQ(Describe(product), Describe(independent)) << "table " << n << "\n" << Picture(mask);
    leaking += !independent.empty();
  }
  EXPECT_GT(leaking, 50);  // not vacuous
}

}  // namespace
}  // namespace kring::projections
