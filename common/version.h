// The version of this build: the CMake project version and the git commit
// it was configured from (common/CMakeLists.txt).
#pragma once

namespace kring {

// e.g. "0.1.0 (git 1a2b3c4d5e6f)"; the commit is "unknown" outside git.
const char* Version();

}  // namespace kring
