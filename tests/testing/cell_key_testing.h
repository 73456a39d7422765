// The cell key secret of tests (projections/cell_key.h): fixed, so that a
// test's perturbed figures are the same on every run.
#pragma once

#include <memory>

#include "projections/cell_key.h"

namespace kring::testing {

inline std::shared_ptr<const projections::CellKeySecret> TestCellKeySecret() {
  static const auto* const secret = new std::shared_ptr<const projections::CellKeySecret>(
      *projections::CellKeySecret::FromBytes("kring test cell key secret, 32+ bytes long"));
  return *secret;
}

}  // namespace kring::testing
