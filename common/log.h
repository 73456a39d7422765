// One spdlog logger per subsystem ("eventstore", "relay", "projections",
// "ingest", "auth", "keys", "access-log", …), all writing key=value lines to
// stderr, and also to the file KRING_LOG_FILE names when it is set (appended
// to; the test suite points every process at one file and checks it for
// planted personal data at the end).
//
// Never log personal data: ids of cases, participants and coordinators are
// pseudonymous but still case-level data, so log counts, positions and codes.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace kring {

// Returns the logger of `subsystem`, creating it on first use. Thread-safe.
std::shared_ptr<spdlog::logger> Logger(const std::string& subsystem);

// Sets the level of every subsystem logger ("trace" … "off").
void SetLogLevel(const std::string& level);

}  // namespace kring
