#include "projections/comparison.h"

#include <optional>

namespace kring::projections {

absl::StatusOr<size_t> ReferenceGroup(const std::vector<std::string>& labels, const std::string& compare_with) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == compare_with) return i;
  }
  // The value itself is not repeated: error messages never echo free text.
  return absl::InvalidArgumentError(
      "compare_with: must be the label of a listed group (its key, or key/key2 with then_by)");
}

void SetInterval(const Interval& interval, v1::ConfidenceInterval* out) {
  out->set_lower(interval.lower);
  out->set_upper(interval.upper);
}

void SetWilson(double x, double n, double scale, v1::ConfidenceInterval* out) {
  if (const std::optional<Interval> i = Wilson(x, n)) SetInterval({i->lower * scale, i->upper * scale}, out);
}

void SetMeanInterval(double mean, std::optional<double> sd, double n, v1::ConfidenceInterval* out) {
  if (!sd) return;
  if (const std::optional<Interval> i = MeanInterval(mean, *sd, n)) SetInterval(*i, out);
}

ComparedFigure Proportion(std::string measure, std::string item, bool present, double x, double n, double scale,
                          double estimate) {
  ComparedFigure f;
  f.measure = std::move(measure);
  f.item = std::move(item);
  f.kind = ComparedFigure::Kind::kProportion;
  f.present = present && n > 0;
  f.x = x;
  f.n = n;
  f.scale = scale;
  f.estimate = estimate;
  return f;
}

namespace {

const char* MethodOf(const ComparedFigure& f) {
  switch (f.kind) {
    case ComparedFigure::Kind::kProportion:
      return "Newcombe hybrid score (Wilson)";
    case ComparedFigure::Kind::kMean:
      return "Welch t";
    case ComparedFigure::Kind::kNormal:
      return "normal";
  }
  return "";
}

std::optional<Interval> DifferenceInterval(const ComparedFigure& g, const ComparedFigure& r) {
  switch (g.kind) {
    case ComparedFigure::Kind::kProportion: {
      std::optional<Interval> i = NewcombeDifference(g.x, g.n, r.x, r.n);
      if (!i) return std::nullopt;
      return Interval{i->lower * g.scale, i->upper * g.scale};
    }
    case ComparedFigure::Kind::kMean:
      if (!g.sd_known || !r.sd_known) return std::nullopt;
      // Centred on the published means' difference.
      return WelchDifference(g.estimate, g.sd, g.n, r.estimate, r.sd, r.n);
    case ComparedFigure::Kind::kNormal:
      return NormalInterval(g.estimate - r.estimate, g.variance + r.variance);
  }
  return std::nullopt;
}

}  // namespace

v1::Comparison Compare(const std::vector<std::string>& labels, const std::vector<std::vector<ComparedFigure>>& figures,
                       size_t reference) {
  v1::Comparison out;
  out.set_reference(labels[reference]);
  for (size_t g = 0; g < labels.size(); ++g) {
    if (g == reference) continue;
    v1::GroupComparison* c = out.add_groups();
    c->set_group(labels[g]);
    for (size_t i = 0; i < figures[g].size() && i < figures[reference].size(); ++i) {
      const ComparedFigure& f = figures[g][i];
      const ComparedFigure& r = figures[reference][i];
      v1::Difference* d = c->add_differences();
      d->set_measure(f.measure);
      d->set_item(f.item);
      d->set_method(MethodOf(f));
      if (!f.present || !r.present) continue;
      const std::optional<Interval> interval = DifferenceInterval(f, r);
      if (!interval) continue;
      d->set_estimate(f.estimate - r.estimate);
      SetInterval(*interval, d->mutable_ci());
    }
  }
  return out;
}

}  // namespace kring::projections
