// AES-256-GCM (OpenSSL EVP): authenticated encryption with associated data.
// Used for the personal parts of events (under a case's data key) and for the
// data keys themselves (wrapped under the master key).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kring::security {

inline constexpr size_t kKeyBytes = 32;    // AES-256
inline constexpr size_t kNonceBytes = 12;  // GCM's 96-bit IV
inline constexpr size_t kTagBytes = 16;

struct Sealed {
  std::string nonce;       // kNonceBytes random bytes
  std::string ciphertext;  // plaintext-length ciphertext, then the kTagBytes tag
};

// `key` must be kKeyBytes long; a fresh random nonce per call.
absl::StatusOr<Sealed> SealAead(std::string_view key, std::string_view plaintext, std::string_view associated_data);
// DATA_LOSS when the tag does not verify (wrong key, wrong associated data,
// or altered bytes); the message names no content.
absl::StatusOr<std::string> OpenAead(std::string_view key, std::string_view nonce, std::string_view ciphertext,
                                     std::string_view associated_data);

// `n` cryptographically random bytes (OpenSSL RAND_bytes).
absl::StatusOr<std::string> RandomBytes(size_t n);

}  // namespace kring::security
