// Who is calling and in which role (DESIGN section 6, docs/security.md).
//
// Identities come from the identities file (--identities), one per line:
//     # role       name          credential
//     partner      jeugdzorg-a   cert
//     researcher   umcg-team     sha256:<64 hex digits: SHA-256 of the token>
// `cert`: the caller presents a client certificate (mTLS, --tls-client-ca)
// whose subject CN is the name. `sha256:…`: the caller sends the token as
// request metadata `authorization: Bearer <token>`; the file holds only its
// hash. A token, when sent, decides the identity.
//
// Each service needs one role: IngestService partner, ResearchService
// researcher, AuditService auditor, OperationsService operator,
// ReplicationService replica (a read replica's kringd). Health checks
// and reflection need none.
//
// Development mode: without an identities file the server only listens on
// loopback, and every caller is the identity "local" with every role.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "kring/v1/audit.pb.h"

namespace kring::security {

enum class Role { kPartner, kResearcher, kAuditor, kOperator, kReplica };
const char* RoleName(Role role);
v1::Role ToProto(Role role);

struct Identity {
  std::string name;  // as in the identities file (or "local")
  Role role = Role::kPartner;
  // Development mode: this caller has every role and is not limited to the
  // cases it referred.
  bool every_role = false;
  v1::Role proto_role() const { return every_role ? v1::ROLE_UNSPECIFIED : ToProto(role); }
};

struct AuthOptions {
  // The identities file (see above). Default: "" — development mode
  // (--identities, KRING_IDENTITIES).
  std::string identities_file;
  // PEM certificate chain and private key of the listener: TLS. Default: ""
  // — plaintext (--tls-cert, --tls-key; KRING_TLS_CERT, KRING_TLS_KEY).
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA whose client certificates are accepted (mTLS); a certificate from
  // another CA fails the handshake. Callers without a certificate may still
  // use a token. Default: "" (--tls-client-ca, KRING_TLS_CLIENT_CA).
  std::string tls_client_ca_file;
  // Serve a non-loopback address without TLS. Default: false
  // (--allow-insecure).
  bool allow_insecure = false;
};

// SHA-256 of `token`, lowercase hex: what the identities file holds.
std::string TokenHash(std::string_view token);

class Authenticator {
 public:
  // Reads the files and checks the combination against `listen` (host:port):
  // a non-loopback address needs TLS (or allow_insecure) and an identities
  // file; mTLS needs an identities file. Errors name the flag.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(const AuthOptions& options, const std::string& listen);

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // The caller of `context`, if it may act as `role`: UNAUTHENTICATED when it
  // sent no known credential, PERMISSION_DENIED when its role is another.
  absl::StatusOr<Identity> Authorize(const grpc::ServerContextBase& context, Role role) const;

  bool development_mode() const { return development_mode_; }
  bool tls() const { return !cert_pem_.empty(); }
  bool mutual_tls() const { return !client_ca_pem_.empty(); }

 private:
  Authenticator() = default;
  absl::StatusOr<Identity> Authenticate(const grpc::ServerContextBase& context) const;

  bool development_mode_ = false;
  std::string cert_pem_, key_pem_, client_ca_pem_;
  std::map<std::string, Identity, std::less<>> by_token_hash_;
  std::map<std::string, Identity, std::less<>> by_certificate_name_;
};

// The metadata key of the stated purpose of a case-level read.
inline constexpr char kPurposeMetadata[] = "kring-purpose";
// The caller's stated purpose: 1-200 bytes of printable text, else
// INVALID_ARGUMENT naming the metadata key.
absl::StatusOr<std::string> StatedPurpose(const grpc::ServerContextBase& context);

}  // namespace kring::security
