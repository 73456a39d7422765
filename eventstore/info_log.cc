#include "eventstore/info_log.h"

#include <rocksdb/listener.h>
#include <sys/time.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>

namespace kring::eventstore {
namespace {

class StdioInfoLog : public rocksdb::Logger {
 public:
  StdioInfoLog(std::FILE* file, rocksdb::InfoLogLevel level) : rocksdb::Logger(level), file_(file) {}
  ~StdioInfoLog() override { CloseFile(); }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[4096];
    struct timeval now;
    gettimeofday(&now, nullptr);
    struct tm t;
    localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", t.tm_year + 1900, t.tm_mon + 1,
                          t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(now.tv_usec));
    va_list copy;
    va_copy(copy, ap);
    const int m = std::vsnprintf(line + n, sizeof(line) - n - 1, format, copy);
    va_end(copy);
    n = m < 0 ? n : std::min<int>(n + m, sizeof(line) - 2);
    if (n == 0 || line[n - 1] != '\n') line[n++] = '\n';
    std::lock_guard<std::mutex> lock(mu_);
    if (file_ == nullptr) return;
    // Errors (a full disk) are ignored on purpose: see the header.
    (void)std::fwrite(line, 1, n, file_);
    (void)std::fflush(file_);
  }

 protected:
  rocksdb::Status CloseImpl() override {
    CloseFile();
    return rocksdb::Status::OK();
  }

 private:
  void CloseFile() {
    std::lock_guard<std::mutex> lock(mu_);
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }

  std::mutex mu_;
  std::FILE* file_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewInfoLog(const std::string& db_path, rocksdb::InfoLogLevel level) {
  std::error_code ec;
  std::filesystem::create_directories(db_path, ec);
  const std::string log = db_path + "/LOG";
  std::filesystem::rename(log, log + ".old", ec);  // a missing LOG is fine
  return std::make_shared<StdioInfoLog>(std::fopen(log.c_str(), "w"), level);
}

namespace {

class NoAutoRecovery : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "KringNoAutoRecovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

}  // namespace

void UseFailSafeErrorHandling(rocksdb::DBOptions* options, const std::string& db_path) {
  options->info_log = NewInfoLog(db_path);
  options->listeners.push_back(std::make_shared<NoAutoRecovery>());
  options->max_bgerror_resume_count = 0;
}

}  // namespace kring::eventstore
