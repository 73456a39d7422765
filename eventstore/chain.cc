#include "eventstore/chain.h"

#include <openssl/evp.h>

#include <cstring>

namespace kring::eventstore {
namespace {

constexpr char kHashTag = (10 << 3) | 2;  // field 10, length-delimited
constexpr size_t kHashFieldBytes = 2 + kHashBytes;

void AppendBytesField(std::string* out, int field, const std::string& bytes) {
  out->push_back(static_cast<char>((field << 3) | 2));
  out->push_back(static_cast<char>(bytes.size()));  // 32: one varint byte
  out->append(bytes);
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
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
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_sha256(), nullptr);
  if (len != kHashBytes || std::memcmp(md, carried.data(), kHashBytes) != 0) {
    return absl::DataLossError("the stored bytes do not match their hash: the record was changed after it was written");
  }
  return carried;
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
