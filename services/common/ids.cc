#include "services/common/ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/strings/escaping.h"

namespace jalon {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    // Without randomness no id or token can be safe; this cannot be
    // recovered from.
    std::abort();
  }
  return out;
}

std::string NewUlid() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  // Monotonic within the process: ids made in the same millisecond (or
  // after the clock stepped back) continue from the last one, so an index
  // sorted by id lists this process's creations in order.
  unsigned char bytes[16];
  {
    static std::mutex mu;
    static uint64_t last_ms = 0;
    static unsigned char last_random[10];
    std::lock_guard<std::mutex> lock(mu);
    if (ms <= last_ms) {
      ms = last_ms;
      for (int i = 9; i >= 0 && ++last_random[i] == 0; --i) {
      }
    } else {
      std::string rnd = RandomBytes(10);
      std::memcpy(last_random, rnd.data(), 10);
      // Leave headroom so increments within a millisecond never wrap.
      last_random[0] &= 0x7f;
      last_ms = ms;
    }
    for (int i = 0; i < 6; ++i) bytes[i] = (ms >> (8 * (5 - i))) & 0xff;
    std::memcpy(bytes + 6, last_random, 10);
  }
  std::string out(26, '0');
  for (int i = 25, bit = 0; i >= 0; --i, bit += 5) {
    int value = 0;
    for (int b = 0; b < 5; ++b) {
      int pos = bit + b;  // bit index from the least significant end
      if (pos < 128) {
        int byte = 15 - pos / 8;
        value |= ((bytes[byte] >> (pos % 8)) & 1) << b;
      }
    }
    out[i] = kAlphabet[value];
  }
  return out;
}

std::string Base64UrlEncode(std::string_view data) {
  return absl::WebSafeBase64Escape(absl::string_view(data.data(), data.size()));
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  return absl::WebSafeBase64Unescape(absl::string_view(in.data(), in.size()),
                                     out);
}

std::string NewTokenSecret() {
  return "jalon_" + Base64UrlEncode(RandomBytes(32));
}

std::string Sha256Hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Fetched once: OpenSSL 3's SHA256() looks the algorithm up on every
  // call, which cost 3x the hashing of a token (every RPC hashes one).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int size = 0;
  if (sha256 == nullptr ||
      EVP_Digest(data.data(), data.size(), digest, &size, sha256, nullptr) !=
          1 ||
      size != SHA256_DIGEST_LENGTH) {
    // Without SHA-256 no token can be checked; this cannot be recovered
    // from.
    std::abort();
  }
  std::string hex(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace jalon
