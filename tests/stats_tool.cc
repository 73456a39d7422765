// stats_tool: the intervals, tests and restricted mean of
// projections/intervals.h for a check from Python against outside libraries
// (tests/stats_outside_test.py: lifelines, statsmodels, scipy). Reads its
// input on stdin, one item per line, and prints CSV with doubles written to
// round-trip (17 significant digits):
//
//   stats_tool wilson     "x n" per line             -> lower,upper
//   stats_tool newcombe   "x1 n1 x2 n2" per line     -> lower,upper
//   stats_tool tmean      a sample per line          -> mean,lower,upper
//   stats_tool welch      two samples per two lines  -> lower,upper (first minus second)
//   stats_tool logrank    "group days event" lines   -> chi_square,df,p_value (all groups, in group order)
//   stats_tool rmst H     "days event" lines         -> rmst,variance (the exact curve, to day H)
//
// Exit status 0, or 2 for bad arguments or input (the reason on stderr).
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "projections/intervals.h"
#include "projections/statistics.h"

namespace {

using namespace kring::projections;

int Fail(const std::string& message) {
  std::cerr << "stats_tool: " << message << "\n";
  return 2;
}

std::vector<std::vector<double>> ReadLines() {
  std::vector<std::vector<double>> out;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::vector<double> values;
    double v = 0;
    while (in >> v) values.push_back(v);
    if (!values.empty()) out.push_back(values);
  }
  return out;
}

struct Sample {
  double mean = 0, sd = 0, n = 0;
};
Sample Describe(const std::vector<double>& values) {
  double sum = 0, squares = 0;
  for (double v : values) sum += v, squares += v * v;
  Sample s;
  s.n = static_cast<double>(values.size());
  s.mean = sum / s.n;
  s.sd = SampleSd(values.size(), sum, squares).value_or(0);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Fail("usage: stats_tool wilson|newcombe|tmean|welch|logrank|rmst H < input");
  const std::string command = argv[1];
  const std::vector<std::vector<double>> lines = ReadLines();
  if (command == "wilson" || command == "newcombe") {
    std::printf("lower,upper\n");
    for (const auto& l : lines) {
      std::optional<Interval> i;
      if (command == "wilson" && l.size() == 2) i = Wilson(l[0], l[1]);
      if (command == "newcombe" && l.size() == 4) i = NewcombeDifference(l[0], l[1], l[2], l[3]);
      if (!i) return Fail("bad line for " + command);
      std::printf("%.17g,%.17g\n", i->lower, i->upper);
    }
  } else if (command == "tmean") {
    std::printf("mean,lower,upper\n");
    for (const auto& l : lines) {
      const Sample s = Describe(l);
      const std::optional<Interval> i = MeanInterval(s.mean, s.sd, s.n);
      if (!i) return Fail("a sample needs two values");
      std::printf("%.17g,%.17g,%.17g\n", s.mean, i->lower, i->upper);
    }
  } else if (command == "welch") {
    std::printf("lower,upper\n");
    for (size_t k = 0; k + 1 < lines.size(); k += 2) {
      const Sample a = Describe(lines[k]), b = Describe(lines[k + 1]);
      const std::optional<Interval> i = WelchDifference(a.mean, a.sd, a.n, b.mean, b.sd, b.n);
      if (!i) return Fail("a sample needs two values");
      std::printf("%.17g,%.17g\n", i->lower, i->upper);
    }
  } else if (command == "logrank") {
    std::map<int, std::map<int64_t, SurvivalCounts>> groups;
    for (const auto& l : lines) {
      if (l.size() != 3 || l[1] < 0) return Fail("expected \"group days event\"");
      SurvivalCounts& c = groups[static_cast<int>(l[0])][static_cast<int64_t>(l[1])];
      (l[2] != 0 ? c.events : c.censored) += 1;
    }
    std::vector<std::map<int64_t, SurvivalCounts>> ordered;
    for (auto& [g, counts] : groups) ordered.push_back(counts);
    const absl::StatusOr<LogRankResult> r = LogRank(ordered);
    if (!r.ok()) return Fail(r.status().ToString());
    std::printf("chi_square,df,p_value\n%.17g,%u,%.17g\n", r->chi_square, r->degrees_of_freedom, r->p_value);
  } else if (command == "rmst") {
    if (argc != 3) return Fail("usage: stats_tool rmst HORIZON_DAYS < observations");
    std::vector<SurvivalObservation> observations;
    for (const auto& l : lines) {
      if (l.size() != 2) return Fail("expected \"days event\"");
      observations.push_back({static_cast<int64_t>(l[0]), l[1] != 0});
    }
    const absl::StatusOr<KaplanMeierCurve> curve = KaplanMeier(observations);
    if (!curve.ok()) return Fail(curve.status().ToString());
    const RestrictedMean r = RestrictedMeanSurvival(curve->rows, std::stoll(argv[2]));
    std::printf("rmst,variance\n%.17g,%.17g\n", r.days, r.variance);
  } else {
    return Fail("unknown command " + command);
  }
  return std::fflush(stdout) == 0 ? 0 : Fail("cannot write");
}
