// What every kringctl command shares: its exit codes, the channel to the
// server (TLS, client certificate, bearer token, purpose), and the progress
// line on stderr.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kring::client {

// kringctl's exit codes, which scripts may rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // the server refused or failed; a local error
inline constexpr int kExitUsage = 2;        // bad usage
inline constexpr int kExitUnreachable = 3;  // server unreachable or timed out
inline constexpr int kExitChainBroken = 4;  // a hash chain does not verify (verify, restore, access-log)

// How to reach and authenticate to a kringd: kringctl's global flags
// (--server, --tls-*, --token/--token-file, --purpose).
struct ConnectOptions {
  // The server's "host:port". Default: 127.0.0.1:50051.
  std::string server = "127.0.0.1:50051";
  // PEM file of the CA that signed the server's certificate. Non-empty:
  // the channel uses TLS and verifies the server against this CA only.
  // Default: empty (plaintext, for loopback or a tunnel).
  std::string tls_ca_file;
  // PEM files of a client certificate and its private key (mTLS; the server
  // takes the certificate's CN as the caller's identity). Both or neither;
  // they need tls_ca_file. Default: empty.
  std::string tls_cert_file;
  std::string tls_key_file;
  // The name checked in the server's certificate instead of the host in
  // `server` (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG), e.g. when connecting by IP
  // address. Needs tls_ca_file. Default: empty (the host of `server`).
  std::string tls_server_name;
  // Bearer token sent as `authorization: Bearer <token>` on every call.
  // Default: empty (no authorization metadata).
  std::string token;
  // Why case-level data is read, sent as `kring-purpose` on every call; the
  // audit reads need it. Default: empty (no purpose metadata).
  std::string purpose;
};

// Checks `options` without touching the network or the files: printable
// ASCII token and purpose (at most 200 bytes), certificate and key given
// together, the TLS flags only with --tls-ca. The error names the flag.
absl::Status ValidateConnectOptions(const ConnectOptions& options);

// A channel to options.server that accepts large answers and adds the
// authorization and kring-purpose metadata to every call (through a client
// interceptor, so it works on plaintext channels too). Reads the TLS files;
// an error (invalid options, a file that cannot be read) names the flag.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectOptions& options);

// The token in the file at `path` (--token-file), trailing line ends removed.
// The error names --token-file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// kExitUnreachable for UNAVAILABLE and DEADLINE_EXCEEDED, kExitRefused otherwise.
int ExitFor(const grpc::Status& status);

// A server's error for a message line: its message, with the code in front
// when it is about who is calling ("UNAUTHENTICATED: …", "PERMISSION_DENIED:
// …"), so that a missing token or a wrong role is plain.
std::string ErrorText(const grpc::Status& status);

// "kringctl <command>: <message>" on stderr for a local error (Connect's),
// returning kExitUsage.
int ConnectFailed(const std::string& command, const absl::Status& status);

// One progress line on stderr, redrawn in place at most every 200 ms:
// "[#####.....]  42% <counts> | <rate> events/s | ETA m:ss".
class ProgressLine {
 public:
  // `eta_seconds` < 0: unknown. A final update (fraction 1) is always drawn.
  void Draw(double fraction, const std::string& counts, double events_per_second, double eta_seconds);
  // Removes the line, e.g. before an error line is printed.
  void Clear();

 private:
  std::chrono::steady_clock::time_point last_;
  bool drawn_ = false;
};

}  // namespace kring::client
