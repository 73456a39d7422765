#include "eventstore/chain.h"

// SHA-256 from libcrypto's low-level interface: pure functions over a stack
// context, without the provider machinery of EVP (which
// allocates per-thread state that outlives short-lived threads). OpenSSL 3
// marks it deprecated in favour of EVP; it is still supported and uses the
// same accelerated code.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

namespace kring::eventstore {
namespace {

void Digest(std::string_view data, unsigned char (&md)[SHA256_DIGEST_LENGTH]) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(md, &ctx);
}

constexpr char kHashTag = (10 << 3) | 2;  // field 10, length-delimited
constexpr size_t kHashFieldBytes = 2 + kHashBytes;

void AppendBytesField(std::string* out, int field, const std::string& bytes) {
  out->push_back(static_cast<char>((field << 3) | 2));
  out->push_back(static_cast<char>(bytes.size()));  // 32: one varint byte
  out->append(bytes);
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  Digest(data, md);
  return std::string(reinterpret_cast<const char*>(md), sizeof(md));
}

std::string SealRecord(std::string* record, const std::string& prev_hash, const std::string& case_prev_hash) {
  if (!prev_hash.empty()) AppendBytesField(record, 8, prev_hash);
  if (!case_prev_hash.empty()) AppendBytesField(record, 9, case_prev_hash);
  std::string hash = Sha256(*record);
  AppendBytesField(record, 10, hash);
  return hash;
}

absl::StatusOr<std::string_view> CheckRecordHash(std::string_view stored) {
  if (stored.size() < kHashFieldBytes || stored[stored.size() - kHashFieldBytes] != kHashTag ||
      static_cast<size_t>(stored[stored.size() - kHashFieldBytes + 1]) != kHashBytes) {
    return absl::DataLossError("the record does not end with its hash");
  }
  const std::string_view body = stored.substr(0, stored.size() - kHashFieldBytes);
  const std::string_view carried = stored.substr(stored.size() - kHashBytes);
  unsigned char md[SHA256_DIGEST_LENGTH];
  Digest(body, md);
  if (std::memcmp(md, carried.data(), kHashBytes) != 0) {
    return absl::DataLossError("the stored bytes do not match their hash: the record was changed after it was written");
  }
  return carried;
}

namespace {

bool ReadVarint(std::string_view& in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

}  // namespace

bool ReadChainFields(std::string_view in, ChainFields* out) {
  *out = ChainFields();
  while (!in.empty()) {
    uint64_t tag, value;
    if (!ReadVarint(in, &tag)) return false;
    const uint64_t field = tag >> 3;
    switch (tag & 7) {
      case 0:  // varint
        if (!ReadVarint(in, &value)) return false;
        if (field == 2) out->stream_version = value;
        if (field == 3) out->global_position = value;
        break;
      case 1:  // fixed64
        if (in.size() < 8) return false;
        in.remove_prefix(8);
        break;
      case 5:  // fixed32
        if (in.size() < 4) return false;
        in.remove_prefix(4);
        break;
      case 2: {  // length-delimited
        if (!ReadVarint(in, &value) || value > in.size()) return false;
        const std::string_view bytes = in.substr(0, value);
        in.remove_prefix(value);
        if (field == 1) out->case_id = bytes;
        if (field == 8) out->prev_hash = bytes;
        if (field == 9) out->case_prev_hash = bytes;
        if (field == 10) out->hash = bytes;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

std::string ToHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace kring::eventstore
