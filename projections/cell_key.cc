#include "projections/cell_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kring::projections {
namespace {

// Reading more than this is not a key file but a mistake.
constexpr off_t kMostBytes = 1 << 16;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Status Errno(const std::string& flag, const std::string& what, const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot ", what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

CellKeySecret::~CellKeySecret() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

absl::StatusOr<std::shared_ptr<const CellKeySecret>> CellKeySecret::FromBytes(std::string bytes) {
  if (bytes.size() < kMinBytes) {
    const size_t n = bytes.size();
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return absl::InvalidArgumentError(
        absl::StrCat("cell key secret: must hold at least ", kMinBytes, " bytes, holds ", n));
  }
  return std::shared_ptr<const CellKeySecret>(new CellKeySecret(std::move(bytes)));
}

absl::StatusOr<std::shared_ptr<const CellKeySecret>> CellKeySecret::Load(const std::string& path,
                                                                         const std::string& flag) {
  // Open first and check the opened file, so that the checks and the read are
  // about the same file.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(flag, ": ", path, " does not exist"));
    if (errno == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(flag, ": ", path, " cannot be read by this user"));
    }
    return Errno(flag, "open", path);
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return Errno(flag, "stat", path);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not a regular file"));
  const mode_t mode = st.st_mode & 07777;
  if ((mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: %s has mode %04o, but must not be readable, writable or executable by group or others; chmod 600 it", flag,
        path, mode));
  }
  if (st.st_size < static_cast<off_t>(kMinBytes) || st.st_size > kMostBytes) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " must hold at least ", kMinBytes, " and at most ",
                                                   kMostBytes, " bytes, holds ", st.st_size));
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(f.fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return Errno(flag, "read", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  if (got < kMinBytes) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " must hold at least ", kMinBytes, " bytes, holds ", got));
  }
  return std::shared_ptr<const CellKeySecret>(new CellKeySecret(std::move(bytes)));
}

absl::StatusOr<std::shared_ptr<const CellKeySecret>> CellKeySecret::LoadOrCreate(const std::string& path,
                                                                                 const std::string& flag,
                                                                                 bool* created) {
  if (created != nullptr) *created = false;
  {
    Fd f{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600)};
    if (f.fd < 0 && errno != EEXIST) return Errno(flag, "create", path);
    if (f.fd >= 0) {
      // The umask may have taken bits away, never added: still 0600 or less.
      unsigned char random[kMinBytes];
      if (RAND_bytes(random, sizeof random) != 1) {
        ::unlink(path.c_str());
        return absl::InternalError(absl::StrCat(flag, ": RAND_bytes failed"));
      }
      size_t put = 0;
      while (put < sizeof random) {
        const ssize_t n = ::write(f.fd, random + put, sizeof random - put);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          OPENSSL_cleanse(random, sizeof random);
          const absl::Status status = Errno(flag, "write", path);
          ::unlink(path.c_str());
          return status;
        }
        put += static_cast<size_t>(n);
      }
      OPENSSL_cleanse(random, sizeof random);
      if (::fchmod(f.fd, 0600) != 0 || ::fsync(f.fd) != 0) {
        const absl::Status status = Errno(flag, "sync", path);
        ::unlink(path.c_str());
        return status;
      }
      if (created != nullptr) *created = true;
    }
  }
  return Load(path, flag);
}

uint64_t CellKeySecret::RecordKey(std::string_view label) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), bytes_.data(), static_cast<int>(bytes_.size()),
       reinterpret_cast<const unsigned char*>(label.data()), label.size(), digest, &length);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = key << 8 | digest[i];
  return key;
}

uint64_t CellKeySecret::CaseKey(std::string_view case_id) const {
  return RecordKey(std::string("case:").append(case_id));
}

uint64_t CellKeySecret::ConferenceKey(std::string_view event_id) const {
  return RecordKey(std::string("conference:").append(event_id));
}

std::string CellKeySecret::Fingerprint() const {
  return absl::StrFormat("%016x", RecordKey("kring cell key fingerprint"));
}

int32_t PerturbationAt(uint32_t index) {
  if (index < 16) return -2;
  if (index < 64) return -1;
  if (index < 192) return 0;
  if (index < 240) return 1;
  return 2;
}

uint64_t PerturbCount(uint64_t c, uint64_t cell_key, uint64_t floor) {
  if (c == 0 || cell_key_internal::exact_for_testing > 0) return c;
  const int64_t perturbed = static_cast<int64_t>(c) + CountPerturbation(cell_key);
  return std::max<int64_t>(static_cast<int64_t>(floor), perturbed);
}

double PerturbSum(double x, uint64_t c, uint64_t cell_key) {
  if (c == 0 || cell_key_internal::exact_for_testing > 0) return x;
  return x + static_cast<double>(SumPerturbation(cell_key)) * x / static_cast<double>(c);
}

int64_t PerturbIntegerSum(int64_t x, uint64_t c, uint64_t cell_key) {
  return std::llround(PerturbSum(static_cast<double>(x), c, cell_key));
}

}  // namespace kring::projections
