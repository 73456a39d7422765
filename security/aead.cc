#include "security/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kring::security {

namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* MutableBytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// OpenSSL's lengths are ints; personal parts and keys are far smaller.
absl::Status CheckLengths(std::string_view key, std::string_view text, std::string_view associated_data) {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("aead: key must be ", kKeyBytes, " bytes, not ", key.size()));
  }
  if (text.size() > INT_MAX / 2 || associated_data.size() > INT_MAX / 2) {
    return absl::InvalidArgumentError("aead: input too large");
  }
  return absl::OkStatus();
}

absl::Status OpenSslError(const char* what) { return absl::InternalError(absl::StrCat("aead: ", what, " failed")); }

}  // namespace

absl::StatusOr<Sealed> SealAead(std::string_view key, std::string_view plaintext, std::string_view associated_data) {
  RETURN_IF_ERROR(CheckLengths(key, plaintext, associated_data));
  Sealed out;
  ASSIGN_OR_RETURN(out.nonce, RandomBytes(kNonceBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  // The default GCM IV length is 12 bytes (kNonceBytes), so no IVLEN ctrl.
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(out.nonce)) != 1) {
    return OpenSslError("EVP_EncryptInit_ex");
  }
  int len = 0;
  if (!associated_data.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                                                    static_cast<int>(associated_data.size())) != 1) {
    return OpenSslError("EVP_EncryptUpdate(aad)");
  }
  out.ciphertext.resize(plaintext.size() + kTagBytes);
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), MutableBytes(out.ciphertext), &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return OpenSslError("EVP_EncryptUpdate");
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), MutableBytes(out.ciphertext) + written, &len) != 1) {
    return OpenSslError("EVP_EncryptFinal_ex");
  }
  written += len;  // GCM is a stream mode: written == plaintext.size()
  if (static_cast<size_t>(written) != plaintext.size()) return OpenSslError("GCM length check");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, MutableBytes(out.ciphertext) + written) != 1) {
    return OpenSslError("EVP_CTRL_GCM_GET_TAG");
  }
  return out;
}

absl::StatusOr<std::string> OpenAead(std::string_view key, std::string_view nonce, std::string_view ciphertext,
                                     std::string_view associated_data) {
  RETURN_IF_ERROR(CheckLengths(key, ciphertext, associated_data));
  // One message for every way the bytes can fail to verify: it tells an
  // attacker nothing and a log line carries no content.
  const absl::Status not_verified = absl::DataLossError("aead: sealed bytes do not verify");
  if (nonce.size() != kNonceBytes || ciphertext.size() < kTagBytes) return not_verified;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1) {
    return OpenSslError("EVP_DecryptInit_ex");
  }
  int len = 0;
  if (!associated_data.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                                                    static_cast<int>(associated_data.size())) != 1) {
    return OpenSslError("EVP_DecryptUpdate(aad)");
  }
  const size_t text_size = ciphertext.size() - kTagBytes;
  std::string plaintext(text_size, '\0');
  int written = 0;
  if (text_size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), MutableBytes(plaintext), &len, Bytes(ciphertext), static_cast<int>(text_size)) !=
        1) {
      return OpenSslError("EVP_DecryptUpdate");
    }
    written = len;
  }
  // The tag ctrl takes a non-const pointer but only reads it.
  std::string tag(ciphertext.substr(text_size));
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, MutableBytes(tag)) != 1) {
    return OpenSslError("EVP_CTRL_GCM_SET_TAG");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), MutableBytes(plaintext) + written, &len) != 1) {
    // Unverified plaintext must not linger in memory.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return not_verified;
  }
  return plaintext;
}

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > INT_MAX) return absl::InvalidArgumentError("random bytes: too many");
  if (n > 0 && RAND_bytes(MutableBytes(out), static_cast<int>(n)) != 1) {
    return absl::InternalError("random bytes: RAND_bytes failed");
  }
  return out;
}

}  // namespace kring::security
