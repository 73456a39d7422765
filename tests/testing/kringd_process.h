// A real kringd process for end-to-end tests: started on a free loopback
// port with its own data folder, stopped with SIGTERM (or killed with SIGKILL)
// by the test. Its log goes to <data_dir>.log; the destructor stops it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kring::testing {

class KringdProcess {
 public:
  // Starts kringd with --data-dir, --listen 127.0.0.1:0, --ready-file and
  // `extra_args`; waits (bounded) until it is ready. Throws on failure with
  // the tail of the server log.
  KringdProcess(const std::string& data_dir, std::vector<std::string> extra_args = {});
  ~KringdProcess();

  const std::string& address() const { return address_; }
  const std::string& kafka_bootstrap() const { return kafka_bootstrap_; }
  const std::string& log_path() const { return log_path_; }
  // The process id (-1 once stopped), e.g. to read /proc/<pid>/status.
  pid_t pid() const { return pid_; }

  // SIGTERM and wait; returns the exit status (as from waitpid).
  int Terminate();
  // SIGKILL and wait.
  void Kill();

 private:
  pid_t pid_ = -1;
  std::string address_;
  std::string kafka_bootstrap_;
  std::string log_path_;
};

// A real Apache Kafka cluster (KRaft, `nodes` combined broker-controllers on
// loopback) from tests/kafka/kafka-broker.sh; stopped by the destructor.
class KafkaBroker {
 public:
  // Throws with the script's output if the cluster cannot be started.
  explicit KafkaBroker(const std::string& work_dir, int nodes = 1);
  ~KafkaBroker();
  const std::string& bootstrap() const { return bootstrap_; }
  // Stops node k (1-based) / starts it again with its data; throw on failure.
  void StopNode(int k);
  void RestartNode(int k);

 private:
  void Run(const std::string& args);
  std::string work_dir_;
  std::string bootstrap_;
};

// Standard output of a shell command and its exit status (as from pclose).
struct CommandResult {
  int status;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

}  // namespace kring::testing
