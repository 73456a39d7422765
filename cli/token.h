// Bearer tokens for kringd's identities file (kringctl token new): the
// token itself, which only its holder keeps, and the file's line with the
// token's SHA-256, which is all the server stores.
//
//   # role       name          credential
//   researcher   umcg-team     sha256:<64 lowercase hex of SHA-256 of the token string>
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kring::client {

// "krt_" and 43 base64url characters: 32 bytes from OpenSSL's RAND_bytes,
// unpadded. An error when the random generator fails.
absl::StatusOr<std::string> NewToken();

// OK for partner, researcher, auditor, operator; otherwise an error naming --role.
absl::Status ValidateRole(const std::string& role);
// OK for 1-64 of [A-Za-z0-9._-]; otherwise an error naming --name.
absl::Status ValidateIdentityName(const std::string& name);

// The identities file's line for a token: "ROLE NAME sha256:HEX" (no newline).
std::string IdentityLine(const std::string& role, const std::string& name, const std::string& token);

// Appends `line` and a newline to the file at `path` (--append-to), creating
// it with mode 0600 when missing; a newline first when the file does not end
// with one. The error names --append-to.
absl::Status AppendIdentityLine(const std::string& path, const std::string& line);

}  // namespace kring::client
