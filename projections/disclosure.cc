#include "projections/disclosure.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status.h"

namespace kring::projections {
namespace {

// Every number of a table has an index: the cells row-major, then the row
// totals, the column totals, the grand total and the extras (as
// CountTable::CellIndex and friends). Ties between equally small complement
// candidates go to the lowest index.
struct Layout {
  size_t rows;
  size_t cols;
  size_t extras = 0;

  size_t Cell(size_t r, size_t c) const { return r * cols + c; }
  size_t RowTotal(size_t r) const { return rows * cols + r; }
  size_t ColTotal(size_t c) const { return rows * cols + rows + c; }
  size_t Grand() const { return rows * cols + rows + cols; }
  size_t Extra(size_t i) const { return Grand() + 1 + i; }
  size_t size() const { return Grand() + 1 + extras; }
  bool IsExtra(size_t i) const { return i > Grand(); }
  // The column of a cell or a column total; SIZE_MAX for other numbers.
  size_t ColumnOf(size_t i) const {
    if (i < rows * cols) return i % cols;
    if (i >= ColTotal(0) && i < Grand()) return i - ColTotal(0);
    return SIZE_MAX;
  }

  TableElement Element(size_t i) const {
    using Part = TableElement::Part;
    if (IsExtra(i)) return {Part::kExtra, i - Grand() - 1, 0};
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

// The margins' equations (members minus total = 0), then the table's own.
std::vector<Equation> AllEquations(const std::vector<Line>& lines, const std::vector<Equation>& more) {
  std::vector<Equation> out;
  for (const Line& line : lines) {
    Equation eq;
    for (size_t m : line.members) eq.terms.emplace_back(m, 1);
    eq.terms.emplace_back(line.total, -1);
    out.push_back(std::move(eq));
  }
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

// Exact rational linear algebra on sparse rows of 128-bit integers, kept
// divided by their greatest common divisor. The coefficients are small (1,
// sizes up to 30), so the numbers stay far from overflow; an overflow is
// reported (Determined returns nothing) rather than wrapped.
using Int = __int128;

Int Abs(Int v) { return v < 0 ? -v : v; }
Int Gcd(Int a, Int b) {
  a = Abs(a);
  b = Abs(b);
  while (b != 0) {
    const Int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// sum(coefficient * unknown) = rhs; terms sorted by unknown, no zeros.
struct SparseRow {
  std::vector<std::pair<size_t, Int>> terms;
  Int rhs = 0;

  Int Coefficient(size_t unknown) const {
    auto it = std::lower_bound(terms.begin(), terms.end(), std::make_pair(unknown, Int{0}),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    return it != terms.end() && it->first == unknown ? it->second : 0;
  }
  void Normalize() {
    Int g = Abs(rhs);
    for (const auto& [u, c] : terms) g = Gcd(g, c);
    if (g > 1) {
      for (auto& [u, c] : terms) c /= g;
      rhs /= g;
    }
  }
};

bool MulSub(Int fa, Int a, Int fb, Int b, Int* out) {  // fa * a - fb * b
  Int x, y;
  return !__builtin_mul_overflow(fa, a, &x) && !__builtin_mul_overflow(fb, b, &y) && !__builtin_sub_overflow(x, y, out);
}

// fa * a - fb * b, or false on overflow.
bool Combine(const SparseRow& a, Int fa, const SparseRow& b, Int fb, SparseRow* out) {
  SparseRow r;
  size_t i = 0, j = 0;
  while (i < a.terms.size() || j < b.terms.size()) {
    size_t u;
    Int ca = 0, cb = 0;
    if (j == b.terms.size() || (i < a.terms.size() && a.terms[i].first < b.terms[j].first)) {
      u = a.terms[i].first;
      ca = a.terms[i++].second;
    } else if (i == a.terms.size() || b.terms[j].first < a.terms[i].first) {
      u = b.terms[j].first;
      cb = b.terms[j++].second;
    } else {
      u = a.terms[i].first;
      ca = a.terms[i++].second;
      cb = b.terms[j++].second;
    }
    Int v;
    if (!MulSub(fa, ca, fb, cb, &v)) return false;
    if (v != 0) r.terms.emplace_back(u, v);
  }
  if (!MulSub(fa, a.rhs, fb, b.rhs, &r.rhs)) return false;
  r.Normalize();
  *out = std::move(r);
  return true;
}

// The unknowns (indices where `known` is empty) that the equations determine
// uniquely, with their values, in index order; nullopt if the arithmetic
// overflowed (callers then assume the worst).
//
// Gauss–Jordan elimination over the rationals, one equation at a time into a
// basis in reduced row echelon form: each basis row has a pivot unknown that
// no other basis row contains. An unknown is determined iff a basis row holds
// it alone (every solution of the homogeneous system is zero there).
std::optional<std::vector<std::pair<size_t, int64_t>>> Determined(const std::vector<Equation>& equations,
                                                                  const std::vector<std::optional<int64_t>>& known) {
  std::vector<size_t> unknown_of(known.size(), SIZE_MAX);
  std::vector<size_t> index_of;
  for (size_t i = 0; i < known.size(); ++i) {
    if (!known[i].has_value()) {
      unknown_of[i] = index_of.size();
      index_of.push_back(i);
    }
  }
  std::vector<SparseRow> basis;
  std::vector<size_t> pivot_row(index_of.size(), SIZE_MAX);
  for (const Equation& eq : equations) {
    SparseRow row;
    row.rhs = eq.constant;
    for (const auto& [i, c] : eq.terms) {
      if (c == 0) continue;
      if (known[i].has_value()) {
        row.rhs -= Int{c} * *known[i];
      } else {
        row.terms.emplace_back(unknown_of[i], c);
      }
    }
    if (row.terms.empty()) continue;
    std::sort(row.terms.begin(), row.terms.end());
    row.Normalize();
    // Reduce by the basis: its pivots bring in no other pivot unknown.
    std::vector<size_t> pivots_here;
    for (const auto& [u, c] : row.terms) {
      if (pivot_row[u] != SIZE_MAX) pivots_here.push_back(u);
    }
    for (size_t u : pivots_here) {
      const Int c = row.Coefficient(u);
      if (c == 0) continue;
      const SparseRow& b = basis[pivot_row[u]];
      if (!Combine(row, b.Coefficient(u), b, c, &row)) return std::nullopt;
    }
    if (row.terms.empty()) continue;  // dependent (or, with wrong values, inconsistent)
    const size_t p = row.terms.front().first;
    if (row.terms.front().second < 0) {
      for (auto& [u, c] : row.terms) c = -c;
      row.rhs = -row.rhs;
    }
    for (SparseRow& b : basis) {
      const Int c = b.Coefficient(p);
      if (c != 0 && !Combine(b, row.terms.front().second, row, c, &b)) return std::nullopt;
    }
    pivot_row[p] = basis.size();
    basis.push_back(std::move(row));
  }
  std::vector<std::pair<size_t, int64_t>> out;
  for (const SparseRow& b : basis) {
    if (b.terms.size() == 1)
      out.emplace_back(index_of[b.terms[0].first], static_cast<int64_t>(b.rhs / b.terms[0].second));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every number of the table by index (Layout).
std::vector<int64_t> Values(const CountTable& t) {
  const Layout layout{t.rows, t.cols, t.extras.size()};
  std::vector<int64_t> value(layout.size());
  for (size_t i = 0; i < t.cells.size() && i < t.rows * t.cols; ++i) value[i] = static_cast<int64_t>(t.cells[i]);
  for (size_t r = 0; r < t.row_totals.size() && r < t.rows; ++r)
    value[layout.RowTotal(r)] = static_cast<int64_t>(t.row_totals[r]);
  for (size_t c = 0; c < t.col_totals.size() && c < t.cols; ++c)
    value[layout.ColTotal(c)] = static_cast<int64_t>(t.col_totals[c]);
  value[layout.Grand()] = static_cast<int64_t>(t.grand_total);
  for (size_t i = 0; i < t.extras.size(); ++i) value[layout.Extra(i)] = t.extras[i].value;
  return value;
}

// Whether a number of a table is in a hidden column.
bool Hidden(const Layout& layout, const std::vector<bool>& hidden_cols, size_t i) {
  const size_t c = layout.ColumnOf(i);
  return c != SIZE_MAX && c < hidden_cols.size() && hidden_cols[c];
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
  if (!t.hidden_cols.empty() && t.hidden_cols.size() != t.cols) {
    return BadRequestError("table.hidden_cols", absl::StrCat("must be empty or hold one flag per column (", t.cols,
                                                             "), got ", t.hidden_cols.size()));
  }
  const Layout layout{t.rows, t.cols, t.extras.size()};
  std::vector<int64_t> value = Values(t);
  for (size_t i = 0; i < t.extras.size(); ++i) {
    const Extra& e = t.extras[i];
    if (e.follows > layout.Grand()) {
      return BadRequestError(
          absl::StrCat("table.extras[", i, "].follows"),
          absl::StrCat("must be the index of a count (at most ", layout.Grand(), "), got ", e.follows));
    }
    if (value[e.follows] == 0 && e.value != 0) {
      return BadRequestError(absl::StrCat("table.extras[", i, "].value"),
                             absl::StrCat("must be 0 when the count it follows is 0, got ", e.value));
    }
  }
  for (size_t n = 0; n < t.equations.size(); ++n) {
    const Equation& eq = t.equations[n];
    Int sum = 0;
    for (const auto& [i, c] : eq.terms) {
      if (i >= layout.size()) {
        return BadRequestError(absl::StrCat("table.equations[", n, "]"),
                               absl::StrCat("names index ", i, ", beyond the table's ", layout.size(), " numbers"));
      }
      sum += Int{c} * value[i];
    }
    if (sum != eq.constant) {
      return BadRequestError(absl::StrCat("table.equations[", n, "]"),
                             absl::StrCat("must hold for the table's values: the terms add up to ",
                                          static_cast<int64_t>(sum), ", not ", eq.constant));
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
  const Layout layout{table.rows, table.cols, table.extras.size()};
  const std::vector<int64_t> value = Values(table);
  const std::vector<Line> lines = Lines(layout, table.additive_rows, table.additive_cols);
  const std::vector<Equation> all_equations = AllEquations(lines, table.equations);

  // States of the counts (indices up to the grand total); an extra takes the
  // state of the count it follows.
  std::vector<Suppression> state(layout.Grand() + 1, Suppression::kNone);
  for (size_t i = 0; i <= layout.Grand(); ++i) {
    if (value[i] > 0 && value[i] < options.min_cell_size) state[i] = Suppression::kPrimary;
  }
  for (size_t i = 0; i < table.forced_cells.size() && i < table.cells.size(); ++i) {
    if (table.forced_cells[i] && value[i] > 0) state[i] = Suppression::kPrimary;
  }
  for (size_t c = 0; c < table.forced_col_totals.size() && c < table.cols; ++c) {
    if (table.forced_col_totals[c] && value[layout.ColTotal(c)] > 0) state[layout.ColTotal(c)] = Suppression::kPrimary;
  }
  auto count_of = [&](size_t i) { return layout.IsExtra(i) ? table.extras[i - layout.Grand() - 1].follows : i; };
  auto hidden = [&](size_t i) { return Hidden(layout, table.hidden_cols, i); };
  // Unknown to the reader. Zeros are known (a sum over no units is zero).
  auto blank = [&](size_t i) {
    const size_t c = count_of(i);
    if (value[c] == 0) return false;
    const bool count_blank = state[c] != Suppression::kNone || hidden(c);
    return layout.IsExtra(i) ? count_blank || !table.extras[i - layout.Grand() - 1].published : count_blank;
  };
  // Must not be recomputable: a suppressed count (hidden ones only when they
  // count 1..k-1) and a non-zero sum following it. (A sum of zero over units
  // of size zero is what the published zero bins say already; with every
  // non-zero number blank, the equations are homogeneous and determine only
  // such zeros, so no complement could hide them.)
  auto guarded = [&](size_t i) { return blank(i) && value[i] != 0 && state[count_of(i)] != Suppression::kNone; };
  auto candidate = [&](size_t i) {
    return i <= layout.Grand() && state[i] == Suppression::kNone && !hidden(i) && value[i] > 0;
  };
  // The smallest candidate of `indices` (extras stand for their counts; ties:
  // the first), if any.
  auto smallest = [&](const std::vector<size_t>& indices) -> std::optional<size_t> {
    std::optional<size_t> best;
    for (size_t x : indices) {
      const size_t i = count_of(x);
      if (candidate(i) && (!best || value[i] < value[*best] || (value[i] == value[*best] && i < *best))) best = i;
    }
    return best;
  };

  // What the reader knows: every number not blank.
  auto Known = [&] {
    std::vector<std::optional<int64_t>> known(layout.size());
    for (size_t i = 0; i < layout.size(); ++i) {
      if (!blank(i)) known[i] = value[i];
    }
    return known;
  };

  for (;;) {
    // The complement rule on the margins until stable: no margin equation
    // with exactly one blank.
    for (bool changed = true; changed;) {
      changed = false;
      for (const Line& line : lines) {
        size_t blanks = blank(line.total) ? 1 : 0;
        bool lone_guarded = guarded(line.total);
        for (size_t m : line.members) {
          if (blank(m)) {
            ++blanks;
            lone_guarded = guarded(m);
          }
        }
        if (blanks != 1 || !lone_guarded) continue;
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
    std::optional<size_t> x;
    const auto determined = Determined(all_equations, Known());
    if (determined) {
      for (const auto& [i, v] : *determined) {
        if (guarded(i)) {
          x = i;
          break;
        }
      }
    } else {
      // The arithmetic overflowed: assume the worst, one guarded blank at a
      // time, until no candidate is left.
      for (size_t i = 0; i < layout.size() && !x; ++i) {
        if (guarded(i)) x = i;
      }
    }
    if (!x) break;
    // Blank one more number next to the first determined one: the smallest
    // of the numbers in its equations whose blanking leaves it undetermined
    // (it joins that blank into a cycle of blanks), else the smallest of
    // them. Then the complement rule again.
    std::vector<size_t> near;
    for (const Equation& eq : all_equations) {
      bool has = false;
      for (const auto& [i, c] : eq.terms) has |= i == *x;
      if (!has) continue;
      for (const auto& [i, c] : eq.terms) {
        if (candidate(count_of(i))) near.push_back(count_of(i));
      }
    }
    std::sort(near.begin(), near.end(),
              [&](size_t a, size_t b) { return std::tie(value[a], a) < std::tie(value[b], b); });
    near.erase(std::unique(near.begin(), near.end()), near.end());
    std::optional<size_t> pick;
    for (size_t c : near) {
      state[c] = Suppression::kSecondary;
      const auto after = Determined(all_equations, Known());
      state[c] = Suppression::kNone;
      if (after && std::none_of(after->begin(), after->end(), [&](const auto& d) { return d.first == *x; })) {
        pick = c;
        break;
      }
    }
    if (!pick) pick = smallest(near);
    if (!pick) {
      std::vector<size_t> all(layout.Grand() + 1);
      for (size_t i = 0; i < all.size(); ++i) all[i] = i;
      pick = smallest(all);
    }
    // Once every non-zero count is blank nothing is determined but what the
    // published zeros determine on their own, which no complement changes.
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
  for (const Extra& e : table.extras)
    mask.extras.push_back(value[e.follows] == 0 ? Suppression::kNone : state[e.follows]);
  return mask;
}

PublishedTable Publish(const CountTable& table, const SuppressionMask& mask) {
  const Layout layout{table.rows, table.cols, table.extras.size()};
  auto blank = [&](const std::vector<uint64_t>& values, const std::vector<Suppression>& s, size_t first_index) {
    std::vector<std::optional<uint64_t>> out(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const bool hidden = Hidden(layout, table.hidden_cols, first_index + i);
      if (values[i] == 0 || (s[i] == Suppression::kNone && !hidden)) out[i] = values[i];
    }
    return out;
  };
  PublishedTable p;
  p.rows = table.rows;
  p.cols = table.cols;
  p.cells = blank(table.cells, mask.cells, 0);
  p.row_totals = blank(table.row_totals, mask.row_totals, layout.RowTotal(0));
  p.col_totals = blank(table.col_totals, mask.col_totals, layout.ColTotal(0));
  if (mask.grand_total == Suppression::kNone || table.grand_total == 0) p.grand_total = table.grand_total;
  p.additive_rows = table.additive_rows;
  p.additive_cols = table.additive_cols;
  p.hidden_cols = table.hidden_cols;
  const std::vector<int64_t> value = Values(table);
  for (size_t i = 0; i < table.extras.size(); ++i) {
    const Extra& e = table.extras[i];
    const bool count_published = mask.extras[i] == Suppression::kNone && !Hidden(layout, table.hidden_cols, e.follows);
    if (value[e.follows] == 0 || (e.published && count_published)) {
      p.extras.push_back(e.value);
    } else {
      p.extras.push_back(std::nullopt);
    }
    p.extra_follows.push_back(e.follows);
  }
  p.equations = table.equations;
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
    case TableElement::Part::kExtra:
      return absl::StrCat("extra[", e.row, "]");
  }
  return "?";
}

std::vector<Recomputed> FindRecomputable(const PublishedTable& table, Audit audit, uint32_t min_cell_size) {
  const Layout layout{table.rows, table.cols, table.extras.size()};
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
  for (size_t i = 0; i < table.extras.size(); ++i) known[layout.Extra(i)] = table.extras[i];
  const std::vector<Equation> equations =
      AllEquations(Lines(layout, table.additive_rows, table.additive_cols), table.equations);

  // Whether recomputing number i (to v) discloses something: a blank count
  // (a hidden one when it counts 1..k-1), a non-zero extra whose count is
  // blank (see Suppress on zero sums).
  auto guarded = [&](size_t i, int64_t v) {
    if (layout.IsExtra(i)) {
      const size_t c = table.extra_follows[i - layout.Grand() - 1];
      return v != 0 && !known[c].has_value();
    }
    if (Hidden(layout, table.hidden_cols, i)) return v > 0 && v < static_cast<int64_t>(min_cell_size);
    return true;
  };

  std::vector<Recomputed> out;
  if (audit == Audit::kLinear) {
    const auto determined = Determined(equations, known);
    if (!determined) {
      // Overflow: report every blank, the worst case.
      for (size_t i = 0; i < layout.size(); ++i) {
        if (!known[i] && guarded(i, 1)) out.push_back({layout.Element(i), 0});
      }
      return out;
    }
    for (const auto& [i, v] : *determined) {
      if (guarded(i, v)) out.push_back({layout.Element(i), v});
    }
    return out;
  }

  // Single-unknown propagation: repeatedly solve an equation with exactly one
  // unknown (it shares only the list of equations with Suppress, so that the
  // tests check the suppression independently).
  for (bool changed = true; changed;) {
    changed = false;
    for (const Equation& eq : equations) {
      size_t unknowns = 0, unknown = 0;
      int64_t coefficient = 0;
      Int rest = eq.constant;
      for (const auto& [i, c] : eq.terms) {
        if (c == 0) continue;
        if (known[i]) {
          rest -= Int{c} * *known[i];
        } else {
          ++unknowns;
          unknown = i;
          coefficient = c;
        }
      }
      if (unknowns != 1 || rest % coefficient != 0) continue;
      const int64_t v = static_cast<int64_t>(rest / coefficient);
      known[unknown] = v;
      if (guarded(unknown, v)) out.push_back({layout.Element(unknown), v});
      changed = true;
    }
  }
  return out;
}

}  // namespace kring::projections
