#include "projections/disclosure.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status.h"

namespace kring::projections {
namespace {

// Every number of a table has an index: the cells row-major, then the row
// totals, the column totals and the grand total. Ties between equally small
// complement candidates go to the lowest index.
struct Layout {
  size_t rows;
  size_t cols;

  size_t Cell(size_t r, size_t c) const { return r * cols + c; }
  size_t RowTotal(size_t r) const { return rows * cols + r; }
  size_t ColTotal(size_t c) const { return rows * cols + rows + c; }
  size_t Grand() const { return rows * cols + rows + cols; }
  size_t size() const { return Grand() + 1; }

  TableElement Element(size_t i) const {
    using Part = TableElement::Part;
    if (i < rows * cols) return {Part::kCell, i / cols, i % cols};
    i -= rows * cols;
    if (i < rows) return {Part::kRowTotal, i, 0};
    i -= rows;
    if (i < cols) return {Part::kColTotal, 0, i};
    return {Part::kGrandTotal, 0, 0};
  }
};

// An equation of the table: the members sum to the total.
struct Line {
  std::vector<size_t> members;
  size_t total;
};

// The table's equations, in the order the complement rule visits them: the
// rows, the row of column totals, the columns, the column of row totals. Only
// additive directions have equations.
std::vector<Line> Lines(const Layout& l, bool additive_rows, bool additive_cols) {
  std::vector<Line> lines;
  if (additive_rows) {
    for (size_t r = 0; r < l.rows; ++r) {
      Line line{{}, l.RowTotal(r)};
      for (size_t c = 0; c < l.cols; ++c) line.members.push_back(l.Cell(r, c));
      lines.push_back(std::move(line));
    }
    Line margin{{}, l.Grand()};
    for (size_t c = 0; c < l.cols; ++c) margin.members.push_back(l.ColTotal(c));
    lines.push_back(std::move(margin));
  }
  if (additive_cols) {
    for (size_t c = 0; c < l.cols; ++c) {
      Line line{{}, l.ColTotal(c)};
      for (size_t r = 0; r < l.rows; ++r) line.members.push_back(l.Cell(r, c));
      lines.push_back(std::move(line));
    }
    Line margin{{}, l.Grand()};
    for (size_t r = 0; r < l.rows; ++r) margin.members.push_back(l.RowTotal(r));
    lines.push_back(std::move(margin));
  }
  return lines;
}

// The unknowns (indices where `known` is empty) that the equations determine
// uniquely, with their values, in index order.
//
// Gauss–Jordan elimination in integers on [A | b], one row per equation with
// an unknown, one column per unknown. An unknown is determined iff its column
// is a pivot column whose row has no other non-zero entry (every solution of
// the homogeneous system is zero there). The matrix is a signed incidence
// matrix of the bipartite graph "rows of the table with its margin row" ×
// "columns with its margin column" (each number lies in one of each), hence
// totally unimodular: pivots are ±1 and entries stay in {-1, 0, 1}, so the
// integer row operations are exact and cannot grow.
std::vector<std::pair<size_t, int64_t>> Determined(const Layout& layout, const std::vector<Line>& lines,
                                                   const std::vector<std::optional<int64_t>>& known) {
  std::vector<size_t> unknowns;
  std::vector<size_t> column(layout.size(), 0);
  for (size_t i = 0; i < layout.size(); ++i) {
    if (!known[i].has_value()) {
      column[i] = unknowns.size();
      unknowns.push_back(i);
    }
  }
  const size_t n = unknowns.size();
  std::vector<std::vector<int64_t>> a;  // n coefficients, then the right-hand side
  for (const Line& line : lines) {
    std::vector<int64_t> row(n + 1, 0);
    bool any_unknown = false;
    // sum(members) - total = 0, known terms moved to the right.
    for (size_t m : line.members) {
      if (known[m].has_value()) {
        row[n] -= *known[m];
      } else {
        row[column[m]] += 1;
        any_unknown = true;
      }
    }
    if (known[line.total].has_value()) {
      row[n] += *known[line.total];
    } else {
      row[column[line.total]] -= 1;
      any_unknown = true;
    }
    if (any_unknown) a.push_back(std::move(row));
  }

  std::vector<size_t> pivot_col;  // per reduced row
  size_t next = 0;
  for (size_t c = 0; c < n && next < a.size(); ++c) {
    size_t p = next;
    while (p < a.size() && a[p][c] == 0) ++p;
    if (p == a.size()) continue;
    std::swap(a[p], a[next]);
    std::vector<int64_t>& pivot = a[next];
    if (pivot[c] < 0) {
      for (int64_t& v : pivot) v = -v;
    }
    for (size_t r = 0; r < a.size(); ++r) {
      if (r == next || a[r][c] == 0) continue;
      const int64_t f = a[r][c];
      // Fraction-free: exact for any pivot; with pivot 1 the plain update.
      for (size_t k = 0; k <= n; ++k) a[r][k] = pivot[c] * a[r][k] - f * pivot[k];
    }
    pivot_col.push_back(c);
    ++next;
  }

  std::vector<std::pair<size_t, int64_t>> out;
  for (size_t r = 0; r < pivot_col.size(); ++r) {
    const size_t c = pivot_col[r];
    bool alone = true;
    for (size_t k = 0; k < n && alone; ++k) alone = (k == c || a[r][k] == 0);
    if (alone) out.emplace_back(unknowns[c], a[r][n] / a[r][c]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status ValidateTable(const CountTable& t) {
  if (t.cells.size() != t.rows * t.cols) {
    return BadRequestError("table.cells",
                           absl::StrCat("must hold rows * cols = ", t.rows * t.cols, " counts, got ", t.cells.size()));
  }
  if (t.row_totals.size() != t.rows) {
    return BadRequestError("table.row_totals",
                           absl::StrCat("must hold one count per row (", t.rows, "), got ", t.row_totals.size()));
  }
  if (t.col_totals.size() != t.cols) {
    return BadRequestError("table.col_totals",
                           absl::StrCat("must hold one count per column (", t.cols, "), got ", t.col_totals.size()));
  }
  if (t.additive_rows) {
    for (size_t r = 0; r < t.rows; ++r) {
      uint64_t sum = 0;
      for (size_t c = 0; c < t.cols; ++c) sum += t.cell(r, c);
      if (sum != t.row_totals[r]) {
        return BadRequestError(absl::StrCat("table.row_totals[", r, "]"),
                               absl::StrCat("must be the sum of its row's cells (", sum,
                                            ") when additive_rows is set, got ", t.row_totals[r]));
      }
    }
    uint64_t sum = 0;
    for (uint64_t v : t.col_totals) sum += v;
    if (sum != t.grand_total) {
      return BadRequestError("table.grand_total", absl::StrCat("must be the sum of the column totals (", sum,
                                                               ") when additive_rows is set, got ", t.grand_total));
    }
  }
  if (t.additive_cols) {
    for (size_t c = 0; c < t.cols; ++c) {
      uint64_t sum = 0;
      for (size_t r = 0; r < t.rows; ++r) sum += t.cell(r, c);
      if (sum != t.col_totals[c]) {
        return BadRequestError(absl::StrCat("table.col_totals[", c, "]"),
                               absl::StrCat("must be the sum of its column's cells (", sum,
                                            ") when additive_cols is set, got ", t.col_totals[c]));
      }
    }
    uint64_t sum = 0;
    for (uint64_t v : t.row_totals) sum += v;
    if (sum != t.grand_total) {
      return BadRequestError("table.grand_total", absl::StrCat("must be the sum of the row totals (", sum,
                                                               ") when additive_cols is set, got ", t.grand_total));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDisclosure(const DisclosureOptions& options) {
  if (options.min_cell_size < kMinCellSizeFloor) {
    return BadRequestError("disclosure.min_cell_size",
                           absl::StrCat("must be at least ", kMinCellSizeFloor, ", got ", options.min_cell_size));
  }
  return absl::OkStatus();
}

CountTable AdditiveTable(size_t rows, size_t cols, std::vector<uint64_t> cells) {
  CountTable t;
  t.rows = rows;
  t.cols = cols;
  t.cells = std::move(cells);
  t.row_totals.assign(rows, 0);
  t.col_totals.assign(cols, 0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols && r * cols + c < t.cells.size(); ++c) {
      t.row_totals[r] += t.cell(r, c);
      t.col_totals[c] += t.cell(r, c);
      t.grand_total += t.cell(r, c);
    }
  }
  return t;
}

absl::string_view SuppressionName(Suppression s) {
  switch (s) {
    case Suppression::kNone:
      return "none";
    case Suppression::kPrimary:
      return "primary";
    case Suppression::kSecondary:
      return "secondary";
  }
  return "none";
}

bool SuppressionMask::any() const {
  auto some = [](const std::vector<Suppression>& v) {
    return std::any_of(v.begin(), v.end(), [](Suppression s) { return s != Suppression::kNone; });
  };
  return some(cells) || some(row_totals) || some(col_totals) || grand_total != Suppression::kNone;
}

absl::StatusOr<SuppressionMask> Suppress(const CountTable& table, const DisclosureOptions& options) {
  RETURN_IF_ERROR(ValidateDisclosure(options));
  RETURN_IF_ERROR(ValidateTable(table));
  const Layout layout{table.rows, table.cols};
  std::vector<uint64_t> value(layout.size());
  std::copy(table.cells.begin(), table.cells.end(), value.begin());
  std::copy(table.row_totals.begin(), table.row_totals.end(), value.begin() + layout.RowTotal(0));
  std::copy(table.col_totals.begin(), table.col_totals.end(), value.begin() + layout.ColTotal(0));
  value[layout.Grand()] = table.grand_total;
  const std::vector<Line> lines = Lines(layout, table.additive_rows, table.additive_cols);

  std::vector<Suppression> state(layout.size(), Suppression::kNone);
  for (size_t i = 0; i < layout.size(); ++i) {
    if (value[i] > 0 && value[i] < options.min_cell_size) state[i] = Suppression::kPrimary;
  }
  for (size_t i = 0; i < table.forced_cells.size() && i < table.cells.size(); ++i) {
    if (table.forced_cells[i] && value[i] > 0) state[i] = Suppression::kPrimary;
  }
  for (size_t c = 0; c < table.forced_col_totals.size() && c < table.cols; ++c) {
    if (table.forced_col_totals[c] && value[layout.ColTotal(c)] > 0) state[layout.ColTotal(c)] = Suppression::kPrimary;
  }
  auto candidate = [&](size_t i) { return state[i] == Suppression::kNone && value[i] > 0; };
  // The smallest candidate of `indices` (ties: the first), if any.
  auto smallest = [&](const std::vector<size_t>& indices) -> std::optional<size_t> {
    std::optional<size_t> best;
    for (size_t i : indices) {
      if (candidate(i) && (!best || value[i] < value[*best] || (value[i] == value[*best] && i < *best))) best = i;
    }
    return best;
  };

  for (;;) {
    // The complement rule until stable: no equation with exactly one blank.
    for (bool changed = true; changed;) {
      changed = false;
      for (const Line& line : lines) {
        size_t blanks = state[line.total] != Suppression::kNone ? 1 : 0;
        for (size_t m : line.members) blanks += state[m] != Suppression::kNone ? 1 : 0;
        if (blanks != 1) continue;
        std::optional<size_t> pick = smallest(line.members);
        if (!pick && candidate(line.total)) pick = line.total;
        // With consistent sums there is always a pick: a lone blank member
        // makes the total non-zero, a lone blank total a member non-zero.
        if (!pick) continue;
        state[*pick] = Suppression::kSecondary;
        changed = true;
      }
    }

    // What combinations of equations still give away.
    std::vector<std::optional<int64_t>> known(layout.size());
    for (size_t i = 0; i < layout.size(); ++i) {
      if (state[i] == Suppression::kNone) known[i] = static_cast<int64_t>(value[i]);
    }
    const auto determined = Determined(layout, lines, known);
    if (determined.empty()) break;
    // Blank one more number next to the first determined one: it joins that
    // blank into a cycle of blanks. Then the complement rule again.
    const size_t x = determined.front().first;
    std::vector<size_t> near;
    for (const Line& line : lines) {
      if (line.total != x && std::find(line.members.begin(), line.members.end(), x) == line.members.end()) continue;
      near.insert(near.end(), line.members.begin(), line.members.end());
      near.push_back(line.total);
    }
    std::optional<size_t> pick = smallest(near);
    if (!pick) {
      std::vector<size_t> all(layout.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = i;
      pick = smallest(all);
    }
    // Once every non-zero number is blank nothing is determined (the system
    // is homogeneous with a non-zero solution), so this does not happen.
    if (!pick) break;
    state[*pick] = Suppression::kSecondary;
  }

  SuppressionMask mask;
  mask.rows = table.rows;
  mask.cols = table.cols;
  mask.cells.assign(state.begin(), state.begin() + layout.RowTotal(0));
  mask.row_totals.assign(state.begin() + layout.RowTotal(0), state.begin() + layout.ColTotal(0));
  mask.col_totals.assign(state.begin() + layout.ColTotal(0), state.begin() + layout.Grand());
  mask.grand_total = state[layout.Grand()];
  return mask;
}

PublishedTable Publish(const CountTable& table, const SuppressionMask& mask) {
  auto blank = [](const std::vector<uint64_t>& values, const std::vector<Suppression>& s) {
    std::vector<std::optional<uint64_t>> out(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (s[i] == Suppression::kNone) out[i] = values[i];
    }
    return out;
  };
  PublishedTable p;
  p.rows = table.rows;
  p.cols = table.cols;
  p.cells = blank(table.cells, mask.cells);
  p.row_totals = blank(table.row_totals, mask.row_totals);
  p.col_totals = blank(table.col_totals, mask.col_totals);
  if (mask.grand_total == Suppression::kNone) p.grand_total = table.grand_total;
  p.additive_rows = table.additive_rows;
  p.additive_cols = table.additive_cols;
  return p;
}

std::string DebugString(const TableElement& e) {
  switch (e.part) {
    case TableElement::Part::kCell:
      return absl::StrCat("cell(", e.row, ",", e.col, ")");
    case TableElement::Part::kRowTotal:
      return absl::StrCat("row_total[", e.row, "]");
    case TableElement::Part::kColTotal:
      return absl::StrCat("col_total[", e.col, "]");
    case TableElement::Part::kGrandTotal:
      return "grand_total";
  }
  return "?";
}

std::vector<Recomputed> FindRecomputable(const PublishedTable& table, Audit audit) {
  using Part = TableElement::Part;
  if (audit == Audit::kLinear) {
    const Layout layout{table.rows, table.cols};
    std::vector<std::optional<int64_t>> known(layout.size());
    auto copy = [&](const std::vector<std::optional<uint64_t>>& from, size_t at) {
      for (size_t i = 0; i < from.size(); ++i) {
        if (from[i]) known[at + i] = static_cast<int64_t>(*from[i]);
      }
    };
    copy(table.cells, 0);
    copy(table.row_totals, layout.RowTotal(0));
    copy(table.col_totals, layout.ColTotal(0));
    if (table.grand_total) known[layout.Grand()] = static_cast<int64_t>(*table.grand_total);
    std::vector<Recomputed> out;
    for (const auto& [i, v] : Determined(layout, Lines(layout, table.additive_rows, table.additive_cols), known)) {
      out.push_back({layout.Element(i), v});
    }
    return out;
  }

  // Single-unknown propagation, written out on its own (it shares no code with
  // Suppress) so that the tests check the suppression independently.
  struct Term {
    std::optional<int64_t>* value;
    TableElement element;
  };
  auto to_signed = [](const std::vector<std::optional<uint64_t>>& v) {
    std::vector<std::optional<int64_t>> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i]) out[i] = static_cast<int64_t>(*v[i]);
    }
    return out;
  };
  std::vector<std::optional<int64_t>> cells = to_signed(table.cells);
  std::vector<std::optional<int64_t>> row_totals = to_signed(table.row_totals);
  std::vector<std::optional<int64_t>> col_totals = to_signed(table.col_totals);
  std::optional<int64_t> grand;
  if (table.grand_total) grand = static_cast<int64_t>(*table.grand_total);

  // Each equation: its terms, then its total.
  std::vector<std::vector<Term>> equations;
  if (table.additive_rows) {
    for (size_t r = 0; r < table.rows; ++r) {
      std::vector<Term> eq;
      for (size_t c = 0; c < table.cols; ++c) eq.push_back({&cells[r * table.cols + c], {Part::kCell, r, c}});
      eq.push_back({&row_totals[r], {Part::kRowTotal, r, 0}});
      equations.push_back(std::move(eq));
    }
    std::vector<Term> eq;
    for (size_t c = 0; c < table.cols; ++c) eq.push_back({&col_totals[c], {Part::kColTotal, 0, c}});
    eq.push_back({&grand, {Part::kGrandTotal, 0, 0}});
    equations.push_back(std::move(eq));
  }
  if (table.additive_cols) {
    for (size_t c = 0; c < table.cols; ++c) {
      std::vector<Term> eq;
      for (size_t r = 0; r < table.rows; ++r) eq.push_back({&cells[r * table.cols + c], {Part::kCell, r, c}});
      eq.push_back({&col_totals[c], {Part::kColTotal, 0, c}});
      equations.push_back(std::move(eq));
    }
    std::vector<Term> eq;
    for (size_t r = 0; r < table.rows; ++r) eq.push_back({&row_totals[r], {Part::kRowTotal, r, 0}});
    eq.push_back({&grand, {Part::kGrandTotal, 0, 0}});
    equations.push_back(std::move(eq));
  }

  std::vector<Recomputed> out;
  for (bool changed = true; changed;) {
    changed = false;
    for (const std::vector<Term>& eq : equations) {
      const Term* unknown = nullptr;
      size_t unknowns = 0;
      int64_t members = 0;  // sum of the known terms before the total
      for (size_t i = 0; i + 1 < eq.size(); ++i) {
        if (eq[i].value->has_value()) {
          members += **eq[i].value;
        } else {
          unknown = &eq[i];
          ++unknowns;
        }
      }
      const Term& total = eq.back();
      if (!total.value->has_value()) {
        unknown = &total;
        ++unknowns;
      }
      if (unknowns != 1) continue;
      const int64_t v = unknown == &total ? members : **total.value - members;
      *unknown->value = v;
      out.push_back({unknown->element, v});
      changed = true;
    }
  }
  return out;
}

}  // namespace kring::projections
