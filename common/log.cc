#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <mutex>

namespace kring {
namespace {
std::mutex mu;
spdlog::level::level_enum current_level = spdlog::level::info;

// stderr, and the file named by KRING_LOG_FILE when set (appended to, a line
// at a time, so that several processes may share it).
std::vector<spdlog::sink_ptr> Sinks() {
  static const std::vector<spdlog::sink_ptr> sinks = [] {
    std::vector<spdlog::sink_ptr> s = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
    if (const char* file = std::getenv("KRING_LOG_FILE"); file != nullptr && *file != '\0') {
      s.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, /*truncate=*/false));
    }
    return s;
  }();
  return sinks;
}
}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& subsystem) {
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = spdlog::get(subsystem)) return existing;
  const std::vector<spdlog::sink_ptr> sinks = Sinks();
  auto logger = std::make_shared<spdlog::logger>(subsystem, sinks.begin(), sinks.end());
  spdlog::register_logger(logger);
  logger->flush_on(spdlog::level::trace);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l subsystem=%n %v", spdlog::pattern_time_type::utc);
  logger->set_level(current_level);
  return logger;
}

void SetLogLevel(const std::string& level) {
  std::lock_guard<std::mutex> lock(mu);
  current_level = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(current_level); });
}

}  // namespace kring
