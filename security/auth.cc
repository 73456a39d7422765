#include "security/auth.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "eventstore/chain.h"
#include "eventstore/validation.h"

namespace kring::security {
namespace {

constexpr char kNameRule[] = "1-64 characters of A-Z a-z 0-9 . _ -";

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::optional<Role> ParseRole(absl::string_view s) {
  for (Role r : {Role::kPartner, Role::kResearcher, Role::kAuditor, Role::kOperator, Role::kReplica}) {
    if (s == absl::string_view(RoleName(r))) return r;
  }
  return std::nullopt;
}

// "127.0.0.1:50051", "localhost:0", "[::1]:50051", "unix:/path".
bool IsLoopback(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:")) return true;
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kPartner:
      return "partner";
    case Role::kResearcher:
      return "researcher";
    case Role::kAuditor:
      return "auditor";
    case Role::kOperator:
      return "operator";
    case Role::kReplica:
      return "replica";
  }
  return "unknown";
}

v1::Role ToProto(Role role) {
  switch (role) {
    case Role::kPartner:
      return v1::ROLE_PARTNER;
    case Role::kResearcher:
      return v1::ROLE_RESEARCHER;
    case Role::kAuditor:
      return v1::ROLE_AUDITOR;
    case Role::kOperator:
      return v1::ROLE_OPERATOR;
    case Role::kReplica:
      return v1::ROLE_REPLICA;
  }
  return v1::ROLE_UNSPECIFIED;
}

std::string TokenHash(std::string_view token) { return eventstore::ToHex(eventstore::Sha256(token)); }

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(const AuthOptions& options,
                                                                     const std::string& listen) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  auto log = Logger("auth");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert, --tls-key: give both (the listener's certificate and its key)");
  }
  if (!options.tls_cert_file.empty()) {
    auto cert = ReadFile(options.tls_cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(options.tls_key_file, "--tls-key");
    if (!key.ok()) return key.status();
    auth->cert_pem_ = *std::move(cert);
    auth->key_pem_ = *std::move(key);
  }
  if (!options.tls_client_ca_file.empty()) {
    if (auth->cert_pem_.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca: mTLS needs TLS: give --tls-cert and --tls-key too");
    }
    auto ca = ReadFile(options.tls_client_ca_file, "--tls-client-ca");
    if (!ca.ok()) return ca.status();
    auth->client_ca_pem_ = *std::move(ca);
  }

  const bool loopback = IsLoopback(listen);
  if (!loopback && auth->cert_pem_.empty()) {
    if (!options.allow_insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen: ", listen,
          " is not a loopback address; serving it without TLS needs --tls-cert and --tls-key (or --allow-insecure "
          "on a network you trust)"));
    }
    log->warn(
        "msg=insecure_listener listen={} detail=\"plaintext gRPC on a non-loopback address (--allow-insecure): "
        "tokens and case data travel unencrypted\"",
        listen);
  }

  if (options.identities_file.empty()) {
    if (!loopback) {
      return absl::InvalidArgumentError(absl::StrCat("--identities: required when listening on ", listen,
                                                     " (not loopback); without it every caller would have every role"));
    }
    if (!auth->client_ca_pem_.empty()) {
      return absl::InvalidArgumentError(
          "--identities: required with --tls-client-ca (it gives each certificate its role)");
    }
    auth->development_mode_ = true;
    log->warn(
        "msg=development_mode detail=\"no --identities: loopback only, every caller is 'local' with every role\"");
    return auth;
  }

  auto content = ReadFile(options.identities_file, "--identities");
  if (!content.ok()) return content.status();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*content, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string at = absl::StrCat("--identities: ", options.identities_file, " line ", line_number, ": ");
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(at, "expected \"<role> <name> <credential>\""));
    }
    std::optional<Role> role = ParseRole(fields[0]);
    if (!role) {
      return absl::InvalidArgumentError(absl::StrCat(at, "role must be one of partner, researcher, auditor, operator"));
    }
    if (!eventstore::IsIdentityName(std::string_view(fields[1].data(), fields[1].size())))
      return absl::InvalidArgumentError(absl::StrCat(at, "name must be ", kNameRule));
    Identity identity{std::string(fields[1]), *role, false};
    const absl::string_view credential = fields[2];
    if (credential == "cert") {
      if (!auth->by_certificate_name_.emplace(identity.name, identity).second) {
        return absl::InvalidArgumentError(absl::StrCat(at, "certificate name listed twice"));
      }
    } else if (absl::StartsWith(credential, "sha256:") && credential.size() == 7 + 64 &&
               IsLowerHex(credential.substr(7))) {
      if (!auth->by_token_hash_.emplace(std::string(credential.substr(7)), identity).second) {
        return absl::InvalidArgumentError(absl::StrCat(at, "token hash listed twice"));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(at, "credential must be \"cert\" or \"sha256:\" and 64 lowercase hex digits"));
    }
  }
  if (auth->by_token_hash_.empty() && auth->by_certificate_name_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--identities: ", options.identities_file, " lists no identity"));
  }
  if (!auth->by_certificate_name_.empty() && auth->client_ca_pem_.empty()) {
    log->warn("msg=certificate_identities_unused detail=\"identities with credential 'cert' need --tls-client-ca\"");
  }
  log->info("msg=identities_loaded tokens={} certificates={} tls={} mutual_tls={}", auth->by_token_hash_.size(),
            auth->by_certificate_name_.size(), auth->tls(), auth->mutual_tls());
  return auth;
}

std::shared_ptr<grpc::ServerCredentials> Authenticator::ServerCredentials() const {
  if (cert_pem_.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(client_ca_pem_.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                               : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = client_ca_pem_;
  ssl.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<Identity> Authenticator::Authenticate(const grpc::ServerContextBase& context) const {
  if (development_mode_) return Identity{"local", Role::kOperator, true};
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kBearer = "Bearer ";
    if (!absl::StartsWith(value, kBearer)) {
      return absl::UnauthenticatedError("authorization: must be \"Bearer <token>\"");
    }
    const absl::string_view token = value.substr(kBearer.size());
    auto known = by_token_hash_.find(TokenHash(std::string_view(token.data(), token.size())));
    if (known == by_token_hash_.end()) {
      return absl::UnauthenticatedError("authorization: the bearer token is not known to this server");
    }
    return known->second;
  }
  if (mutual_tls()) {
    std::shared_ptr<const grpc::AuthContext> auth_context = context.auth_context();
    if (auth_context && auth_context->IsPeerAuthenticated()) {
      for (const grpc::string_ref& cn : auth_context->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
        auto known = by_certificate_name_.find(std::string(cn.data(), cn.size()));
        if (known != by_certificate_name_.end()) return known->second;
      }
      return absl::UnauthenticatedError(
          "client certificate: its common name is not listed with credential 'cert' in the server's identities");
    }
  }
  return absl::UnauthenticatedError(
      mutual_tls() ? "credentials required: a client certificate or the metadata \"authorization: Bearer <token>\""
                   : "credentials required: the metadata \"authorization: Bearer <token>\"");
}

absl::StatusOr<Identity> Authenticator::Authorize(const grpc::ServerContextBase& context, Role role) const {
  absl::StatusOr<Identity> identity = Authenticate(context);
  if (!identity.ok()) return identity;
  if (!identity->every_role && identity->role != role) {
    return absl::PermissionDeniedError(absl::StrCat("role: ", identity->name, " is a ", RoleName(identity->role),
                                                    "; this call needs the ", RoleName(role), " role"));
  }
  return identity;
}

absl::StatusOr<std::string> StatedPurpose(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kPurposeMetadata);
  if (it == metadata.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata ", kPurposeMetadata, ": required for reads of case-level data (why you read it, 1-200 bytes)"));
  }
  std::string purpose(it->second.data(), it->second.size());
  const bool printable = std::all_of(purpose.begin(), purpose.end(),
                                     [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
  if (purpose.empty() || purpose.size() > 200 || !printable) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata ", kPurposeMetadata, ": must be 1-200 bytes of printable text"));
  }
  return purpose;
}

}  // namespace kring::security
