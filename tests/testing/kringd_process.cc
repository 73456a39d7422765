#include "tests/testing/kringd_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kring::testing {
namespace {

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace

KringdProcess::KringdProcess(const std::string& data_dir, std::vector<std::string> extra_args)
    : log_path_(data_dir + ".log") {
  const std::string ready = data_dir + ".ready";
  unlink(ready.c_str());
  std::vector<std::string> args = {KRING_KRINGD_PATH, "--data-dir",   data_dir, "--listen",
                                   "127.0.0.1:0",     "--ready-file", ready};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    FILE* log = fopen(log_path_.c_str(), "a");
    if (log != nullptr) {
      dup2(fileno(log), STDOUT_FILENO);
      dup2(fileno(log), STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("kringd exited during start-up:\n" + Tail(log_path_));
    }
    std::ifstream in(ready);
    if (in) {
      nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) {
        address_ = j["grpc"];
        kafka_bootstrap_ = j["kafka_bootstrap"];
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  throw std::runtime_error("kringd not ready after 60 s:\n" + Tail(log_path_));
}

KringdProcess::~KringdProcess() {
  if (pid_ > 0) Terminate();
}

int KringdProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

void KringdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  result.status = pclose(pipe);
  return result;
}

KafkaBroker::KafkaBroker(const std::string& work_dir, int nodes) : work_dir_(work_dir) {
  const std::string script = std::string(KRING_SOURCE_DIR) + "/tests/kafka/kafka-broker.sh";
  const std::string errors = work_dir_ + ".stderr";
  CommandResult r = RunCommand(script + " start " + work_dir_ + " --nodes " + std::to_string(nodes) + " 2>" + errors);
  if (r.status != 0) {
    throw std::runtime_error("cannot start a real Kafka broker:\n" + r.output + Tail(errors));
  }
  std::string line;
  std::istringstream lines(r.output);
  while (std::getline(lines, line)) {
    if (!line.empty()) bootstrap_ = line;
  }
}

void KafkaBroker::Run(const std::string& args) {
  const std::string script = std::string(KRING_SOURCE_DIR) + "/tests/kafka/kafka-broker.sh";
  CommandResult r = RunCommand(script + " " + args + " 2>&1");
  if (r.status != 0) throw std::runtime_error("kafka-broker.sh " + args + " failed:\n" + r.output);
}

void KafkaBroker::StopNode(int k) { Run("stop " + work_dir_ + " " + std::to_string(k)); }

void KafkaBroker::RestartNode(int k) { Run("restart-node " + work_dir_ + " " + std::to_string(k)); }

KafkaBroker::~KafkaBroker() {
  RunCommand(std::string(KRING_SOURCE_DIR) + "/tests/kafka/kafka-broker.sh stop " + work_dir_ + " 2>&1");
}

}  // namespace kring::testing
