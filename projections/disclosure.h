// Statistical disclosure control for research answers (DESIGN section 4).
//
// A research answer is modelled as a 2-D table of case counts: rows are groups
// (year, domain, municipality, or a single row "all"), columns are categories
// (outcome kinds, funnel steps, relation kinds, or a single column), with every
// row total, column total and the grand total published. Suppress() decides
// which of these numbers must be blanked:
//
// - Primary: any number (cell or margin) counting 1..k-1 cases. Zero is not
//   disclosive and is never suppressed.
// - Secondary (complementary): every published equation of the table — a row
//   summing to its row total, a column to its column total, the row totals to
//   the grand total, the column totals to the grand total — must have either
//   no blanked term or at least two, so that no blanked number is the only
//   unknown of an equation. A lone blank gets a complement: the smallest
//   published non-zero term (ties: the first by index), or the equation's
//   total when no such term is left. This repeats until stable. Then an exact
//   linear-algebra audit looks for blanked numbers that combinations of
//   equations still determine (a blank that links two otherwise separate
//   groups of blanks, for example) and complements those too, until none is
//   left.
//
// Equations exist only where the margins add up: when a case can fall in
// several columns or in none (several outcome kinds, say), a row total is not
// the sum of its cells and tells nothing about a blanked cell. The caller says
// which margins are additive (CountTable::additive_rows / additive_cols). The
// primary rule applies to margins either way.
//
// Beyond counts and margins (issue 13): an answer also publishes figures that
// multiply or divide back to counts and sums — a mean times its n is a sum of
// sizes, a histogram's bins times their sizes add up to that sum, a share
// times a sum is another sum. A table can therefore carry
// - extra numbers (CountTable::extras): sums that are published exactly when
//   the count they follow is (attendees with their conferences), or never
//   published (the sizes of the "30 or more" bin), and
// - further linear equations with integer coefficients between any numbers
//   (CountTable::equations): "the bins times their sizes plus the 30+ sizes
//   add up to the attendees", "the relations' attendees add up to them".
// - hidden columns (CountTable::hidden_cols): counts the answer never
//   publishes but whose relations to published ones are known (the conference
//   cases of a domain without a domain saving); they are unknowns of the
//   equations and protected only when they count 1..k-1.
// The audit then covers every equation together: a suppressed count, a sum
// following a suppressed count, or a hidden count of 1..k-1 that the
// published numbers determine gets complements as above. A number that
// follows a count of zero is zero (a sum over no units), and the attacker is
// assumed to know every zero, hidden or not.
//
// FindRecomputable() is the audit the tests run on the published table: it
// reports every protected number an attacker can recompute, either by
// repeatedly solving an equation with a single unknown (the standard simple
// audit) or by exact linear algebra over all equations together (stronger).
// It does not consider bounds from non-negativity or integrality (an interval
// or knapsack attack), only values the equations determine uniquely over the
// rationals.
//
// Everything here is a pure function of its arguments; any thread may call it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kring::projections {

// The lowest min_cell_size a configuration may set.
inline constexpr uint32_t kMinCellSizeFloor = 5;

struct DisclosureOptions {
  // Numbers counting 1..min_cell_size-1 cases are suppressed. Must be at least
  // kMinCellSizeFloor (5).
  // Default: 10.
  uint32_t min_cell_size = 10;
};

// INVALID_ARGUMENT naming the field and the rule, e.g.
// "disclosure.min_cell_size: must be at least 5, got 3".
[[nodiscard]] absl::Status ValidateDisclosure(const DisclosureOptions& options);

// A number of an answer besides its counts: a sum over the units a count
// counts (the attendees of a group's conferences), or an unknown the answer
// never publishes (the sizes of the conferences in the "30 or more" bin).
struct Extra {
  // Its exact value.
  // Default: 0.
  int64_t value = 0;
  // The index (CountTable::CellIndex and friends) of the count whose units it
  // sums: it is published only when that count is, protected when that count
  // is suppressed, and zero (known to be) when that count is zero.
  // Default: 0.
  size_t follows = 0;
  // Whether the answer publishes it (directly or through a mean, a share or
  // an amount) when its count is published. False: never published.
  // Default: true.
  bool published = true;
};

// sum(coefficient * number) = constant, over the indices of a table's numbers.
struct Equation {
  // (index, coefficient) pairs; an index at most once, no zero coefficient.
  // Default: empty.
  std::vector<std::pair<size_t, int64_t>> terms;
  // The right-hand side.
  // Default: 0.
  int64_t constant = 0;
};

// The case counts of an answer, before suppression.
struct CountTable {
  // Number of rows (groups).
  // Default: 0.
  size_t rows = 0;
  // Number of columns (categories).
  // Default: 0.
  size_t cols = 0;
  // rows * cols counts, row-major.
  // Default: empty.
  std::vector<uint64_t> cells;
  // One count per row: the cases of the row's group.
  // Default: empty.
  std::vector<uint64_t> row_totals;
  // One count per column: the cases of the column's category.
  // Default: empty.
  std::vector<uint64_t> col_totals;
  // The cases of the whole answer.
  // Default: 0.
  uint64_t grand_total = 0;
  // The columns partition the cases (each case in exactly one column): every
  // row total is the sum of its row's cells and the grand total the sum of the
  // column totals. Suppress() refuses a table where these sums do not hold.
  // Default: true.
  bool additive_rows = true;
  // The rows partition the cases (each case in exactly one row): every column
  // total is the sum of its column's cells and the grand total the sum of the
  // row totals. Suppress() refuses a table where these sums do not hold.
  // Default: true.
  bool additive_cols = true;
  // Cells (row-major, as `cells`) and column totals the caller needs
  // suppressed whatever they count, as primary ones: a count whose difference
  // from a count containing it (the cases of a funnel step within those of the
  // step before) would reveal fewer than k cases. A zero is never suppressed.
  // Empty: none.
  // Default: empty.
  std::vector<bool> forced_cells;
  std::vector<bool> forced_col_totals;
  // Columns the answer never publishes (neither their cells nor their column
  // total) but whose relations to published numbers are known. Empty: none.
  // Default: empty.
  std::vector<bool> hidden_cols;
  // Numbers besides the counts, each numbered after them (ExtraIndex).
  // Default: empty.
  std::vector<Extra> extras;
  // Linear equations besides the additive margins, over the numbers' indices
  // (CellIndex, RowTotalIndex, ColTotalIndex, GrandTotalIndex, ExtraIndex).
  // Suppress() refuses a table whose values do not satisfy them.
  // Default: empty.
  std::vector<Equation> equations;

  uint64_t cell(size_t row, size_t col) const { return cells[row * cols + col]; }
  // Every number of a table has an index: the cells row-major, then the row
  // totals, the column totals, the grand total and the extras.
  size_t CellIndex(size_t row, size_t col) const { return row * cols + col; }
  size_t RowTotalIndex(size_t row) const { return rows * cols + row; }
  size_t ColTotalIndex(size_t col) const { return rows * cols + rows + col; }
  size_t GrandTotalIndex() const { return rows * cols + rows + cols; }
  size_t ExtraIndex(size_t i) const { return GrandTotalIndex() + 1 + i; }
};

// A table whose margins are the sums of `cells` (rows * cols, row-major), both
// directions additive.
CountTable AdditiveTable(size_t rows, size_t cols, std::vector<uint64_t> cells);

enum class Suppression {
  kNone,       // published
  kPrimary,    // counts 1..k-1 cases
  kSecondary,  // blanked so that a primary one cannot be recomputed
};

// "none", "primary" or "secondary".
absl::string_view SuppressionName(Suppression s);

// Which numbers of a CountTable to blank, and why. Callers blank the derived
// values they show per cell (means, rates, percentiles, Kaplan–Meier rows)
// where suppressed(row, col) holds.
struct SuppressionMask {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<Suppression> cells;  // row-major, as CountTable::cells
  std::vector<Suppression> row_totals;
  std::vector<Suppression> col_totals;
  Suppression grand_total = Suppression::kNone;
  // One per CountTable::extras: the suppression of the count it follows
  // (kNone for a never-published extra of a published count).
  std::vector<Suppression> extras;

  Suppression cell(size_t row, size_t col) const { return cells[row * cols + col]; }
  bool suppressed(size_t row, size_t col) const { return cell(row, col) != Suppression::kNone; }
  bool row_total_suppressed(size_t row) const { return row_totals[row] != Suppression::kNone; }
  bool col_total_suppressed(size_t col) const { return col_totals[col] != Suppression::kNone; }
  bool grand_total_suppressed() const { return grand_total != Suppression::kNone; }
  // Whether anything at all is suppressed.
  bool any() const;
};

// The suppression for `table` (see the file comment). INVALID_ARGUMENT if the
// options are invalid, the vectors' sizes do not match rows and cols, a margin
// declared additive is not the sum it should be, an extra follows no count or
// is not zero where its count is, or an equation names an unknown index or
// does not hold.
[[nodiscard]] absl::StatusOr<SuppressionMask> Suppress(const CountTable& table, const DisclosureOptions& options);

// A table as an answer shows it: a value, or nothing where it was blanked.
struct PublishedTable {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<std::optional<uint64_t>> cells;  // row-major
  std::vector<std::optional<uint64_t>> row_totals;
  std::vector<std::optional<uint64_t>> col_totals;
  std::optional<uint64_t> grand_total;
  // As in CountTable: which equations the reader may use.
  bool additive_rows = true;
  bool additive_cols = true;
  // As in CountTable: what is never published, the extras (a value where
  // published or known to be zero), what each extra follows, and the further
  // equations (the definitions are public: the reader knows them).
  std::vector<bool> hidden_cols;
  std::vector<std::optional<int64_t>> extras;
  std::vector<size_t> extra_follows;
  std::vector<Equation> equations;
};

// `table` with the numbers that `mask` (of the same shape) suppresses blanked.
PublishedTable Publish(const CountTable& table, const SuppressionMask& mask);

// One number of a table.
struct TableElement {
  enum class Part { kCell, kRowTotal, kColTotal, kGrandTotal, kExtra };
  Part part = Part::kCell;
  size_t row = 0;  // for kCell and kRowTotal; the extra's number for kExtra
  size_t col = 0;  // for kCell and kColTotal

  bool operator==(const TableElement& o) const { return part == o.part && row == o.row && col == o.col; }
};

// "cell(1,2)", "row_total[1]", "col_total[2]", "grand_total" or "extra[3]".
std::string DebugString(const TableElement& e);

enum class Audit {
  // Repeatedly solve any equation that has exactly one unknown, until none is
  // left: the standard simple audit.
  kSingleUnknown,
  // Exact linear algebra over all equations together: finds every blank that
  // is uniquely determined (a superset of kSingleUnknown's findings).
  kLinear,
};

struct Recomputed {
  TableElement element;
  int64_t value = 0;  // what the equations give for it
};

// The protected numbers of `table` that `audit` recomputes from the published
// ones and the equations, in element order (cells row-major, row totals,
// column totals, grand total, extras) for kLinear and in order of discovery
// for kSingleUnknown. Protected: a blanked count that is not hidden, a hidden
// count of 1..k-1 (`min_cell_size`), an extra whose count is protected. Empty
// means the suppression holds against that audit.
std::vector<Recomputed> FindRecomputable(const PublishedTable& table, Audit audit, uint32_t min_cell_size = 10);

}  // namespace kring::projections
