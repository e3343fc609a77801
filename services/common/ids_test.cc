// Tests of ids, tokens and hashes.
#include "services/common/ids.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace jalon {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The milliseconds encoded in a ULID's first ten characters.
int64_t UlidMillis(const std::string& ulid) {
  int64_t ms = 0;
  for (int i = 0; i < 10; ++i) {
    ms = ms * 32 + static_cast<int64_t>(std::string(kCrockford).find(ulid[i]));
  }
  return ms;
}

TEST(UlidTest, IsTwentySixCrockfordCharacters) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUlid();
    ASSERT_EQ(id.size(), 26u);
    EXPECT_EQ(id.find_first_not_of(kCrockford), std::string::npos) << id;
    // 128 bits in 130: the first character is at most 7.
    EXPECT_LE(id[0], '7') << id;
  }
}

TEST(UlidTest, EncodesTheCurrentTime) {
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  int64_t before = now();
  std::string id = NewUlid();
  int64_t after = now();
  EXPECT_GE(UlidMillis(id), before);
  EXPECT_LE(UlidMillis(id), after);
}

TEST(UlidTest, SortsByCreationTime) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(NewUlid());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(ids[i - 1], ids[i]);
    EXPECT_LT(UlidMillis(ids[i - 1]), UlidMillis(ids[i]));
  }
}

TEST(UlidTest, UniqueOverAHundredThousand) {
  std::unordered_set<std::string> seen;
  seen.reserve(100000);
  for (int i = 0; i < 100000; ++i) seen.insert(NewUlid());
  EXPECT_EQ(seen.size(), 100000u);
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Binary-safe: an embedded NUL is hashed, not a terminator.
  EXPECT_NE(Sha256Hex(std::string("a\0b", 3)), Sha256Hex("a"));
}

TEST(Base64UrlTest, RoundTripsEveryLengthWithoutPaddingOrUnsafeCharacters) {
  for (size_t n = 0; n <= 64; ++n) {
    std::string data = RandomBytes(n);
    std::string encoded = Base64UrlEncode(data);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos) << encoded;
    EXPECT_EQ(encoded.size(), (4 * n + 2) / 3) << n;
    std::string decoded;
    ASSERT_TRUE(Base64UrlDecode(encoded, &decoded)) << encoded;
    EXPECT_EQ(decoded, data);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64UrlTest, RejectsBadInput) {
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("ab!d", &out));
  EXPECT_FALSE(Base64UrlDecode("a", &out));
}

TEST(TokenTest, HasAtLeast256RandomBits) {
  std::string token = NewTokenSecret();
  ASSERT_EQ(token.rfind("jalon_", 0), 0u) << token;
  std::string raw;
  ASSERT_TRUE(Base64UrlDecode(token.substr(6), &raw));
  EXPECT_GE(raw.size() * 8, 256u);
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(NewTokenSecret());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RandomBytesTest, LengthAndVariety) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(33).size(), 33u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

}  // namespace
}  // namespace jalon

namespace jalon {
namespace {

TEST(UlidMonotonicTest, IdsMadeInTheSameMillisecondStayInOrder) {
  // Thousands of ids a millisecond: without monotonic generation their
  // random parts would put same-millisecond ids out of creation order.
  std::string previous = NewUlid();
  for (int i = 0; i < 20000; ++i) {
    std::string next = NewUlid();
    ASSERT_LT(previous, next) << "at " << i;
    previous = next;
  }
}

}  // namespace
}  // namespace jalon
