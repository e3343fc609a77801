// Random requests for robustness tests: "bad input gets a clear error and
// changes nothing, never a crash" checked on every RPC of a service, with
// requests no one wrote by hand.
//
// RandomMessages fills any message through reflection: each field set or
// not at random, strings drawn from awkward values (empty, blank, very long,
// accented, markup, ids of entities that exist so that a request gets past
// "not found" to deeper rules), numbers at their edges (NaN, infinities,
// the limits of their type), dates that do not exist, timestamps out of
// range, enum values outside their enum, field masks naming fields that do
// and do not exist. Deterministic for a seed; strings are valid UTF-8, as
// protobuf requires.
//
// ProbeRandomRequests calls every unary method of a service with such
// requests through a generic stub (raw bytes, as any client could send)
// and checks each answer (see ProbeOptions).
#ifndef JALON_TESTS_SUPPORT_RANDOM_REQUESTS_H_
#define JALON_TESTS_SUPPORT_RANDOM_REQUESTS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace jalon::testing {

class RandomMessages {
 public:
  explicit RandomMessages(uint64_t seed);

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
  std::vector<std::string> known_;
  // Field names seen so far, for field masks.
  std::set<std::string> names_;
};

struct ProbeOptions {
  // The service, e.g. "jalon.roadmap.v1.RoadmapService".
  std::string service;
  // Methods not to call (e.g. one that would revoke the probe's tokens).
  std::set<std::string> skip;
  // Bearer tokens to call with, one picked per call (admins get furthest).
  std::vector<std::string> tokens;
  int calls = 300;
  uint64_t seed = 1;
  // Strings that string fields are given often (ids that exist).
  std::vector<std::string> known_strings;
  // Valid requests in protobuf text format, by method name: most calls of
  // such a method send one with a few fields changed, so that they reach
  // the rules past the first checks (and some succeed). Each `vars` key
  // ("$R") in them is replaced by its value (an id) first.
  std::map<std::string, std::string> valid_requests;
  std::map<std::string, std::string> vars;
  // A fingerprint of everything the service keeps (e.g. the length of its
  // stream and the number of keys). A call that fails must leave it
  // unchanged.
  std::function<std::string()> fingerprint;
};

// Calls random requests and checks every answer: the status is one a
// client can act on (never INTERNAL, UNKNOWN, UNAVAILABLE or a timeout),
// it carries a google.rpc.Status with an ErrorInfo, INVALID_ARGUMENT names
// the field in a BadRequest, and a failed call leaves `fingerprint`
// unchanged. Reports failures with gtest's ADD_FAILURE; returns how many
// calls succeeded, so a caller can check the probe got past validation.
int ProbeRandomRequests(const std::shared_ptr<grpc::Channel>& channel,
                        const ProbeOptions& options);

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_RANDOM_REQUESTS_H_
