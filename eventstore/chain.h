// The tamper-evidence chain over the stored log (DESIGN sections 2 and 6).
//
// Every stored record (a serialized kring.v1.RecordedEvent) ends with its
// chain fields, written in this order after the envelope and the event:
//   prev_hash (8)       the hash of the event before it in the global log
//                       (absent for position 1)
//   case_prev_hash (9)  the hash of the case's previous event (absent for
//                       version 1)
//   hash (10)           SHA-256 of every byte of the record before this field
// so the hash covers the record exactly as stored: envelope, event (with any
// sealed personal data as ciphertext), and both links. A change to any byte,
// a deleted record or two swapped records break the chain where they are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kring::eventstore {

inline constexpr size_t kHashBytes = 32;

// SHA-256 of `data`, 32 bytes.
std::string Sha256(std::string_view data);

// Appends the chain fields to `record` (a serialized RecordedEvent without
// them) and returns the record's hash. Empty links are left out.
std::string SealRecord(std::string* record, const std::string& prev_hash, const std::string& case_prev_hash);

// The hash a stored record carries (a view into `stored`), after checking
// that it ends with a hash field and that the field matches the SHA-256 of
// the bytes before it. DATA_LOSS saying what is wrong otherwise.
absl::StatusOr<std::string_view> CheckRecordHash(std::string_view stored);

// The fields of a stored record that the chain links check, read in place
// (views into the record) without parsing the event.
struct ChainFields {
  std::string_view case_id;
  uint64_t stream_version = 0;
  uint64_t global_position = 0;
  std::string_view prev_hash;
  std::string_view case_prev_hash;
  std::string_view hash;
};
// False when the record is not well-formed protobuf.
bool ReadChainFields(std::string_view stored, ChainFields* out);

// Lowercase hexadecimal, for messages and tools.
std::string ToHex(std::string_view bytes);

}  // namespace kring::eventstore
