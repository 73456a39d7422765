// One spdlog logger per subsystem ("eventstore", "relay", "projections",
// "ingest", "auth", "keys", "access-log", "kafka", …), all writing key=value
// lines (or, after SetLogFormat("json"), one JSON object per line) to
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
#include <string_view>

namespace kring {

// Returns the logger of `subsystem`, creating it on first use. Thread-safe.
std::shared_ptr<spdlog::logger> Logger(const std::string& subsystem);

// Sets the level of every subsystem logger ("trace" … "off").
void SetLogLevel(const std::string& level);

// "text" (default): `<time> level=<l> subsystem=<s> <key=value …>`;
// "json": `{"ts":…,"level":…,"subsystem":…,"msg":"<key=value …>"}`, the
// message JSON-escaped. For every logger, existing and future. Returns false
// for another name.
bool SetLogFormat(const std::string& format);

// A value for a key="value" pair: backslash and double quote escaped with a
// backslash, newline, carriage return and tab as \n \r \t, other control
// bytes as \xNN. Text from outside Kring (librdkafka, RocksDB) goes through
// it, so that one log record is always one line.
std::string EscapeLogValue(std::string_view text);

}  // namespace kring
