#include "cli/console.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/client_interceptor.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kring::client {
namespace {

using Metadata = std::vector<std::pair<std::string, std::string>>;

// Adds fixed metadata (authorization, kring-purpose) to every call's initial
// metadata. One per call, created by the factory below; never shared.
class MetadataInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetadataInterceptor(std::shared_ptr<const Metadata> metadata) : metadata_(std::move(metadata)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      // The map owns copies of the strings for the call's lifetime.
      std::multimap<std::string, std::string>* sent = methods->GetSendInitialMetadata();
      for (const auto& [key, value] : *metadata_) sent->emplace(key, value);
    }
    methods->Proceed();
  }

 private:
  std::shared_ptr<const Metadata> metadata_;
};

// Owned by the channel; called from whichever thread starts a call.
class MetadataInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit MetadataInterceptorFactory(std::shared_ptr<const Metadata> metadata) : metadata_(std::move(metadata)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new MetadataInterceptor(metadata_);
  }

 private:
  std::shared_ptr<const Metadata> metadata_;
};

// gRPC sends a text metadata value only if it is printable ASCII.
bool PrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  if (content.str().empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is empty"));
  return content.str();
}

}  // namespace

absl::Status ValidateConnectOptions(const ConnectOptions& o) {
  if (o.server.empty()) return absl::InvalidArgumentError("--server: must not be empty");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(o.tls_cert_file.empty() ? "--tls-key: needs --tls-cert (the client certificate)"
                                                              : "--tls-cert: needs --tls-key (its private key)");
  }
  if (o.tls_ca_file.empty()) {
    if (!o.tls_cert_file.empty()) {
      return absl::InvalidArgumentError("--tls-cert: needs --tls-ca (the CA that signed the server's certificate)");
    }
    if (!o.tls_server_name.empty()) {
      return absl::InvalidArgumentError("--tls-server-name: needs --tls-ca (it applies to TLS only)");
    }
  }
  if (!o.token.empty() && (!PrintableAscii(o.token) || o.token.find(' ') != std::string::npos)) {
    return absl::InvalidArgumentError(
        "--token: must be printable ASCII without spaces (a token from kringctl token new)");
  }
  if (!o.purpose.empty()) {
    if (o.purpose.size() > 200) return absl::InvalidArgumentError("--purpose: at most 200 bytes");
    if (!PrintableAscii(o.purpose)) {
      return absl::InvalidArgumentError(
          "--purpose: must be printable ASCII (gRPC metadata), e.g. \"complaint 2024-17\"");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectOptions& o) {
  if (absl::Status valid = ValidateConnectOptions(o); !valid.ok()) return valid;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (o.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    auto ca = ReadFile(o.tls_ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    if (!o.tls_cert_file.empty()) {
      auto cert = ReadFile(o.tls_cert_file, "--tls-cert");
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(o.tls_key_file, "--tls-key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
    if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  }
  auto metadata = std::make_shared<Metadata>();
  if (!o.token.empty()) metadata->emplace_back("authorization", absl::StrCat("Bearer ", o.token));
  if (!o.purpose.empty()) metadata->emplace_back("kring-purpose", o.purpose);
  if (metadata->empty()) return grpc::CreateCustomChannel(o.server, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<MetadataInterceptorFactory>(std::move(metadata)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(o.server, credentials, args, std::move(interceptors));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  auto content = ReadFile(path, "--token-file");
  if (!content.ok()) return content.status();
  std::string token = *std::move(content);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("--token-file: ", path, " holds no token"));
  return token;
}

int ExitFor(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
             ? kExitUnreachable
             : kExitRefused;
}

std::string ErrorText(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat("UNAUTHENTICATED: ", status.error_message());
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("PERMISSION_DENIED: ", status.error_message());
    default:
      return status.error_message();
  }
}

int ConnectFailed(const std::string& command, const absl::Status& status) {
  std::cerr << "kringctl " << command << ": " << status.message() << "\n";
  return kExitUsage;
}

void ProgressLine::Draw(double fraction, const std::string& counts, double events_per_second, double eta_seconds) {
  const auto now = std::chrono::steady_clock::now();
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (drawn_ && now - last_ < std::chrono::milliseconds(200) && fraction < 1.0) return;
  last_ = now;
  const int filled = static_cast<int>(fraction * 30);
  char eta[32] = "--:--";
  if (eta_seconds >= 0 && fraction < 1.0) {
    const long s = static_cast<long>(eta_seconds);
    std::snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
  }
  std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%% %s | %.0f events/s | ETA %s", std::string(filled, '#').c_str(),
               std::string(30 - filled, '.').c_str(), 100 * fraction, counts.c_str(), events_per_second, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace kring::client
