#include "cli/token.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "eventstore/chain.h"
#include "eventstore/validation.h"

namespace kring::client {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlUnpadded(const unsigned char* data, size_t n) {
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64Url[(v >> shift) & 63]);
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{data[i]} << 16;
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    out.push_back(kBase64Url[(v >> 6) & 63]);
  }
  return out;
}

std::string Errno() { return std::strerror(errno); }

}  // namespace

absl::StatusOr<std::string> NewToken() {
  std::array<unsigned char, 32> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::InternalError("the random generator (OpenSSL RAND_bytes) failed");
  }
  return absl::StrCat("krt_", Base64UrlUnpadded(bytes.data(), bytes.size()));
}

absl::Status ValidateRole(const std::string& role) {
  if (role == "partner" || role == "researcher" || role == "auditor" || role == "operator" || role == "replica")
    return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--role: \"", role, "\" is not a role; one of partner, researcher, auditor, operator, replica"));
}

absl::Status ValidateIdentityName(const std::string& name) {
  if (eventstore::IsIdentityName(name)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--name: \"", name, "\" must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"));
}

std::string IdentityLine(const std::string& role, const std::string& name, const std::string& token) {
  return absl::StrCat(role, " ", name, " sha256:", eventstore::ToHex(eventstore::Sha256(token)));
}

absl::Status AppendIdentityLine(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat("--append-to: cannot open ", path, ": ", Errno()));
  std::string text = line + "\n";
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') text.insert(0, "\n");
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = Errno();
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat("--append-to: cannot write ", path, ": ", err));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string err = synced ? "" : Errno();
  if (::close(fd) != 0 || !synced) {
    return absl::InvalidArgumentError(absl::StrCat("--append-to: cannot write ", path, ": ", synced ? Errno() : err));
  }
  return absl::OkStatus();
}

}  // namespace kring::client
