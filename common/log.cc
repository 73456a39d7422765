#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace kring {
namespace {
std::mutex mu;
spdlog::level::level_enum current_level = spdlog::level::info;
bool json_format = false;  // guarded by mu

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ level=%l subsystem=%n %v";
constexpr char kJsonPattern[] = R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","subsystem":"%n","msg":"%*"})";

void AppendJsonEscaped(std::string_view text, spdlog::memory_buf_t& dest) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      dest.append(buf, buf + 6);
    } else {
      dest.push_back(c);
    }
  }
}

// %* in kJsonPattern: the message, escaped for a JSON string.
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

void ApplyFormat(spdlog::logger& logger) {
  if (json_format) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessage>('*').set_pattern(kJsonPattern);
    logger.set_formatter(std::move(formatter));
  } else {
    logger.set_pattern(kTextPattern, spdlog::pattern_time_type::utc);
  }
}

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
  ApplyFormat(*logger);
  logger->set_level(current_level);
  return logger;
}

void SetLogLevel(const std::string& level) {
  std::lock_guard<std::mutex> lock(mu);
  current_level = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(current_level); });
}

bool SetLogFormat(const std::string& format) {
  if (format != "text" && format != "json") return false;
  std::lock_guard<std::mutex> lock(mu);
  json_format = format == "json";
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { ApplyFormat(*l); });
  return true;
}

std::string EscapeLogValue(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
      case '\\':
        out.push_back('\\');
        out.push_back(c);
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", u);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

}  // namespace kring
