// Personal data planted by the security tests: strings that must never
// appear in a log line, an error message, a research answer, the event
// store's files or the Kafka topic. log_scan_test checks the log that every
// test process (servers included) appended to (KRING_LOG_FILE) for them.
#pragma once

namespace kring::testing {

inline constexpr const char* kPlantedPersonal[] = {
    "Planted-Personal-Name-Fatima-Jansen-Q7X",
    "Planted-Personal-Address-Kerkstraat-12-Zwolle",
    "Planted-Personal-Note-vader-verslaafd-R2D",
};

}  // namespace kring::testing
