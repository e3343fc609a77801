// Random protobuf messages for robustness tests: RandomMessages fills any
// message through reflection: each field set or not at random, strings
// drawn from awkward values (empty, blank, very long, accented, markup, ids
// of entities that exist so that a request gets past "not found" to deeper
// rules), numbers at their edges (NaN, infinities, the limits of their
// type), dates that do not exist, timestamps out of range, enum values
// outside their enum, field masks naming fields that do and do not exist.
// Deterministic for a seed; strings are valid UTF-8, as protobuf requires.
#ifndef JALON_TESTS_SUPPORT_RANDOM_MESSAGES_H_
#define JALON_TESTS_SUPPORT_RANDOM_MESSAGES_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace jalon::testing {

class RandomMessages {
 public:
  explicit RandomMessages(uint64_t seed);

  // Timestamps within google.protobuf.Timestamp's range only (for data
  // that only this system writes, as opposed to requests).
  void OnlyValidTimestamps() { valid_timestamps_ = true; }
  // A string that string fields are given often (an id that exists).
  void AddKnownString(std::string value);
  // Clears `message` and fills it at random.
  void Fill(google::protobuf::Message* message);
  // Changes one to three fields of `message` (a valid request, say), at any
  // depth: a new random value, or cleared.
  void Mutate(google::protobuf::Message* message);

  std::mt19937_64& rng() { return rng_; }
  // True with probability `p`.
  bool Chance(double p);
  // A uniform index below `n` (n > 0).
  size_t Below(size_t n);

 private:
  void FillMessage(google::protobuf::Message* message, int depth);
  void FillField(google::protobuf::Message* message,
                 const google::protobuf::FieldDescriptor* field, int depth);
  void FillWellKnown(google::protobuf::Message* message);
  void MutateOnce(google::protobuf::Message* message, int depth);
  std::string RandomString();
  std::string FieldPath();

  std::mt19937_64 rng_;
  bool valid_timestamps_ = false;
  std::vector<std::string> known_;
  // Field names seen so far, for field masks.
  std::set<std::string> names_;
};

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_RANDOM_MESSAGES_H_
