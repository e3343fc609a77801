// Identifiers and secrets: time-ordered ids (ULIDs, so that an index sorted
// by id lists resources oldest first), random tokens, SHA-256. Thread-safe.
#ifndef JALON_SERVICES_COMMON_IDS_H_
#define JALON_SERVICES_COMMON_IDS_H_

#include <string>
#include <string_view>

namespace jalon {

// A 26-character ULID (Crockford base32): 48 bits of milliseconds, 80 random
// bits. Lexicographic order is creation order (to the millisecond).
std::string NewUlid();

// `n` bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);

// A new API token: "jalon_" + 256 random bits, base64url.
std::string NewTokenSecret();

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// base64url without padding, and its inverse (false on bad input).
std::string Base64UrlEncode(std::string_view data);
bool Base64UrlDecode(std::string_view in, std::string* out);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_IDS_H_
