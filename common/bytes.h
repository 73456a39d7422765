// Order-preserving key encodings for RocksDB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kring {

// Big-endian, so that byte order equals numeric order.
inline void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

inline std::string BigEndian64(uint64_t v) {
  std::string s;
  s.reserve(8);
  PutBigEndian64(&s, v);
  return s;
}

// Reads 8 bytes; `in` must hold at least 8.
inline uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace kring
