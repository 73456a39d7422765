// Comparisons of an answer's groups with a reference group (request field
// compare_with; docs/research.md, "Comparisons"): per other listed group the
// differences (group − reference) of its published figures with 95%
// intervals, each by the method its kind of figure calls for.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kring/v1/research.pb.h"
#include "projections/intervals.h"
#include "projections/research.h"

namespace kring::projections {

// One published figure of a group as a comparison sees it.
struct ComparedFigure {
  enum class Kind {
    kProportion,  // estimate = scale · x / n; Newcombe's hybrid score interval
    kMean,        // estimate = the published mean of n values with sample SD sd; Welch
    kNormal,      // estimate with a variance; normal interval of the difference
  };
  std::string measure;  // as Difference.measure
  std::string item;     // as Difference.item
  Kind kind = Kind::kProportion;
  bool present = false;  // whether the figure is published
  double estimate = 0;
  double x = 0, n = 0, scale = 1;  // kProportion: published counts; kMean: n the published count
  double sd = 0;                   // kMean: the exact values' sample standard deviation
  double variance = 0;             // kNormal
  bool sd_known = false;           // kMean: false when fewer than two exact values
};

// The index of the group labelled `compare_with` ("key", or "key/key2" with
// then_by) among `labels`; INVALID_ARGUMENT naming compare_with otherwise.
absl::StatusOr<size_t> ReferenceGroup(const std::vector<std::string>& labels, const std::string& compare_with);

// The label of a listed group (Selection::GroupLabel of its key and key2).
template <typename Group>
std::string LabelOf(const Group& g) {
  return g.key2().empty() ? g.key() : g.key() + "/" + g.key2();
}
template <typename Group>
std::vector<std::string> LabelsOf(const google::protobuf::RepeatedPtrField<Group>& groups) {
  std::vector<std::string> labels;
  for (const Group& g : groups) labels.push_back(LabelOf(g));
  return labels;
}

// The comparison of every group but the reference with it: `figures[g]` holds
// group g's figures, the same measures in the same order for every group.
// A difference is absent (no estimate, no interval) when either figure is.
v1::Comparison Compare(const std::vector<std::string>& labels, const std::vector<std::vector<ComparedFigure>>& figures,
                       size_t reference);

// The figure's interval as the answer carries it.
void SetInterval(const Interval& interval, v1::ConfidenceInterval* out);

// Sets `out` to the Wilson interval of x / n times `scale` (100: per 100).
void SetWilson(double x, double n, double scale, v1::ConfidenceInterval* out);
// Sets `out` to the t interval of a mean (MeanInterval) when it exists.
void SetMeanInterval(double mean, std::optional<double> sd, double n, v1::ConfidenceInterval* out);

// A proportion's figure: estimate = scale · x / n of published counts.
ComparedFigure Proportion(std::string measure, std::string item, bool present, double x, double n, double scale,
                          double estimate);

}  // namespace kring::projections
