// Formatting of version-4 UUIDs from 128 random bits, in the one spelling the
// write side accepts (lowercase 8-4-4-4-12). Callers bring their own
// randomness: seeded for reproducible cohorts, fast for benchmarks.
#pragma once

#include <cstdint>
#include <string>

namespace kring {

// Overwrites *out with the UUID made of hi and lo, with the version (4) and
// variant (10xx) bits set; no allocation once *out has held 36 characters.
inline void FormatUuidV4(uint64_t hi, uint64_t lo, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  out->resize(36);
  char* p = out->data();
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20) *p++ = '-';
    const uint64_t word = nibble < 16 ? hi : lo;
    *p++ = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xf];
  }
}

}  // namespace kring
