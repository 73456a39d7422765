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
// table publishes, and a blank x is determined iff its unit vector lies in the
// row space of the equations' coefficients on the blanks, i.e. iff appending
// that unit vector does not raise the rank. Ranks over exact fractions.
std::vector<TableElement> IndependentlyDetermined(const PublishedTable& p) {
  using Part = TableElement::Part;
  // Every number of the table with whether it is blank.
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
  EXPECT_TRUE(FindRecomputable(published, Audit::kSingleUnknown).empty())
      << Describe(FindRecomputable(published, Audit::kSingleUnknown)) << "\n"
      << Picture(*mask);
  EXPECT_TRUE(IndependentlyDetermined(published).empty())
      << "determined: " << Describe(IndependentlyDetermined(published)) << "\n"
      << Picture(*mask);
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

}  // namespace
}  // namespace kring::projections
