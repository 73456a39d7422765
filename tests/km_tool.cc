// km_tool: the Kaplan–Meier table of projections/statistics.h for a check
// from Python (tests/km_lifelines_test.py). Reads lines "days event" (event 1,
// censored 0) on stdin; blank lines are skipped. Prints the table as CSV:
// time,at_risk,events,censored,survival,se,lower,upper, with doubles written
// to round-trip (17 significant digits).
//
//   km_tool [--band=loglog|linear] < observations.txt
//
// Exit status 0, or 2 for bad arguments or input (the reason on stderr).
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "projections/statistics.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "km_tool: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using kring::projections::ConfidenceBand;
  kring::projections::KaplanMeierOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--band=loglog") {
      options.band = ConfidenceBand::kLogLog;
    } else if (arg == "--band=linear") {
      options.band = ConfidenceBand::kLinear;
    } else {
      return Fail("unknown argument " + arg + " (usage: km_tool [--band=loglog|linear] < observations)");
    }
  }

  std::vector<kring::projections::SurvivalObservation> observations;
  std::string line;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    std::istringstream in(line);
    long long days = 0;
    int event = 0;
    std::string rest;
    if (!(in >> days)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      return Fail("line " + std::to_string(number) + ": expected \"days event\", got \"" + line + "\"");
    }
    if (!(in >> event) || (event != 0 && event != 1) || (in >> rest)) {
      return Fail("line " + std::to_string(number) + ": expected \"days event\" with event 0 or 1, got \"" + line +
                  "\"");
    }
    observations.push_back({static_cast<int64_t>(days), event == 1});
  }

  absl::StatusOr<kring::projections::KaplanMeierCurve> curve = kring::projections::KaplanMeier(observations, options);
  if (!curve.ok()) return Fail(curve.status().ToString());
  std::printf("time,at_risk,events,censored,survival,se,lower,upper\n");
  for (const kring::projections::KaplanMeierRow& row : curve->rows) {
    std::printf("%lld,%llu,%llu,%llu,%.17g,%.17g,%.17g,%.17g\n", static_cast<long long>(row.days),
                static_cast<unsigned long long>(row.at_risk), static_cast<unsigned long long>(row.events),
                static_cast<unsigned long long>(row.censored), row.survival, row.standard_error, row.lower, row.upper);
  }
  return std::fflush(stdout) == 0 ? 0 : Fail("cannot write the table");
}
