// The cell key method against differencing (docs/research.md, "Perturbation:
// the cell key method"; decisions D11-D18 of issue 13).
//
// Every unit a research answer counts (a case; for network size, a held
// conference) carries a record key: the first 8 bytes, big-endian, of
// HMAC-SHA256(secret, label) as a uint64, with label "case:<case_id>" or
// "conference:<event_id of the ConferenceHeld>". A published figure's cell
// key is the sum of its units' record keys mod 2^64 (CellKey, mergeable like
// the tallies). The perturbation table (kPtableVersion) maps the top byte of
// a cell key to a small whole number: counts are published as
// max(k, c + p) (zero stays zero; 1..k-1 are suppressed before), sums as
// X + q X / c. The same units always give the same figure, so "as of P"
// answers never change; two overlapping answers differ by noise, not by a
// family.
//
// Record keys and the secret are never published, logged or written to the
// event log.
//
// Threads: a CellKeySecret is immutable once made; share it freely.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kring::projections {

// The secret that derives record keys (HMAC-SHA256 key, used whole).
class CellKeySecret {
 public:
  static constexpr size_t kMinBytes = 32;

  // Reads the secret from `path` (named `flag` in errors): NOT_FOUND when it
  // does not exist; PERMISSION_DENIED when the file is readable, writable or
  // executable by group or others; INVALID_ARGUMENT when it is not a regular
  // file or holds fewer than kMinBytes bytes. The whole file is the secret.
  static absl::StatusOr<std::shared_ptr<const CellKeySecret>> Load(const std::string& path, const std::string& flag);
  // Load(path) when it exists; otherwise creates it (mode 0600, 32 random
  // bytes, written and synced before it is used) and loads it. `created` (if
  // given) says which happened.
  static absl::StatusOr<std::shared_ptr<const CellKeySecret>> LoadOrCreate(const std::string& path,
                                                                           const std::string& flag,
                                                                           bool* created = nullptr);
  // From bytes (tests, tools): INVALID_ARGUMENT under kMinBytes.
  static absl::StatusOr<std::shared_ptr<const CellKeySecret>> FromBytes(std::string bytes);

  ~CellKeySecret();
  CellKeySecret(const CellKeySecret&) = delete;
  CellKeySecret& operator=(const CellKeySecret&) = delete;

  // The first 8 bytes, big-endian, of HMAC-SHA256(secret, label).
  uint64_t RecordKey(std::string_view label) const;
  // RecordKey("case:" + case_id).
  uint64_t CaseKey(std::string_view case_id) const;
  // RecordKey("conference:" + event_id), event_id of the ConferenceHeld.
  uint64_t ConferenceKey(std::string_view event_id) const;
  // 16 hex digits that tell secrets apart without revealing them: the first
  // 8 bytes of HMAC-SHA256(secret, "kring cell key fingerprint"). A read
  // model that stores record keys records it and is rebuilt when it changes.
  std::string Fingerprint() const;

 private:
  explicit CellKeySecret(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;
};

// The sum of record keys mod 2^64 of the units a figure counts.
struct CellKey {
  uint64_t sum = 0;
  void Add(uint64_t record_key) { sum += record_key; }  // unsigned: wraps mod 2^64
  void Merge(const CellKey& other) { sum += other.sum; }
};

// The perturbation table's version, stated in every answer.
inline constexpr char kPtableVersion[] = "kring-ptable-1";
// The largest |p| of the table.
inline constexpr uint32_t kMaxCountPerturbation = 2;
// The sum rule, in words, stated in every answer.
inline constexpr char kSumRule[] =
    "X' = X + q * X / c, q = ptable[(K >> 48) & 0xFF]; integer quantities (people, children, cents) rounded half away "
    "from zero";

// Tests only: while an ExactFiguresForTesting lives, PerturbCount and
// PerturbSum return the exact figure, so that a test can check a definition
// against figures computed by hand (and show what differencing does without
// the method). Process-wide; kringd never makes one.
namespace cell_key_internal {
inline std::atomic<int> exact_for_testing{0};
}  // namespace cell_key_internal
class ExactFiguresForTesting {
 public:
  ExactFiguresForTesting() { ++cell_key_internal::exact_for_testing; }
  ~ExactFiguresForTesting() { --cell_key_internal::exact_for_testing; }
  ExactFiguresForTesting(const ExactFiguresForTesting&) = delete;
  ExactFiguresForTesting& operator=(const ExactFiguresForTesting&) = delete;
};

// The table: p(i) = -2 for i in [0,16), -1 for [16,64), 0 for [64,192), +1 for
// [192,240), +2 for [240,256).
int32_t PerturbationAt(uint32_t index);
// The count perturbation p(K) = table[K >> 56].
inline int32_t CountPerturbation(uint64_t cell_key) { return PerturbationAt(static_cast<uint32_t>(cell_key >> 56)); }
// The sum perturbation q(K) = table[(K >> 48) & 0xFF].
inline int32_t SumPerturbation(uint64_t cell_key) {
  return PerturbationAt(static_cast<uint32_t>((cell_key >> 48) & 0xFF));
}

// A published count: 0 for c = 0, else max(floor, c + p(K)). Counts 1..k-1
// are suppressed before they get here; with floor = k (min_cell_size) no
// published count lies in 1..k-1.
uint64_t PerturbCount(uint64_t c, uint64_t cell_key, uint64_t floor);
// A published sum X over c > 0 units with cell key K: X + q(K) * X / c, in
// double. X (for c = 0) is returned unchanged.
double PerturbSum(double x, uint64_t c, uint64_t cell_key);
// PerturbSum of an integer quantity (people, children, cents), rounded half
// away from zero (std::llround).
int64_t PerturbIntegerSum(int64_t x, uint64_t c, uint64_t cell_key);

}  // namespace kring::projections
