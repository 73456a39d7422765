// Runs after every other test (the ctest fixture server_log, see
// tests/CMakeLists.txt): the log that every test process — in-process servers
// and kringd processes alike — appended to through KRING_LOG_FILE must hold
// none of the personal data the security tests planted.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/testing/planted.h"

namespace kring {
namespace {

TEST(ServerLogTest, HoldsNoPlantedPersonalData) {
  const char* path = std::getenv("KRING_LOG_FILE");
  ASSERT_NE(path, nullptr) << "KRING_LOG_FILE is not set";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "no server log at " << path;
  size_t lines = 0, servers = 0, line_number = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    ++lines;
    if (line.find("msg=serving") != std::string::npos) ++servers;
    for (const char* planted : testing::kPlantedPersonal) {
      EXPECT_EQ(line.find(planted), std::string::npos) << path << ":" << line_number << " holds " << planted;
    }
  }
  // Something was captured: at least one server ran and logged.
  EXPECT_GT(servers, 0u) << lines << " lines, none from a server";
  std::cout << "scanned " << lines << " log lines of " << servers << " server starts\n";
}

}  // namespace
}  // namespace kring
