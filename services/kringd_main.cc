// kringd: runs a KringServer until SIGTERM or SIGINT, then shuts it down
// cleanly. Exit codes: 0 clean stop, 1 start-up failure, 2 bad flags.
#include <signal.h>

#include <iostream>

#include "common/log.h"
#include "services/server.h"

int main(int argc, char** argv) {
  auto options = kring::services::ParseServerOptions(argc, argv);
  if (!options.ok()) {
    if (options.status().code() == absl::StatusCode::kCancelled) {  // --help, --version
      std::cout << options.status().message();
      return 0;
    }
    std::cerr << "kringd: " << options.status().message() << "\n";
    return 2;
  }
  kring::SetLogLevel(options->log_level);
  kring::SetLogFormat(options->log_format);

  // Every thread started from here on inherits the blocked signals, so only
  // sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = kring::services::KringServer::Start(*std::move(options));
  if (!server.ok()) {
    kring::Logger("server")->error("msg=start_failed status=\"{}\"", server.status().ToString());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  kring::Logger("server")->info("msg=signal_received signal={}", received == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown();
  return 0;
}
