// Random requests for robustness tests: "bad input gets a clear error and
// changes nothing, never a crash" checked on every RPC of a service, with
// requests no one wrote by hand.
//
// ProbeRandomRequests calls every unary method of a service with such
// requests through a generic stub (raw bytes, as any client could send)
// and checks each answer (see ProbeOptions).
#ifndef JALON_TESTS_SUPPORT_RANDOM_REQUESTS_H_
#define JALON_TESTS_SUPPORT_RANDOM_REQUESTS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "services/common/redis.h"
#include "tests/support/random_messages.h"

namespace jalon::testing {

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
  // The Redis holding what the service keeps: a call that fails must leave
  // its DataDigest unchanged.
  RedisClient* redis = nullptr;
};

// A digest of everything in the Redis database of `redis`: every key and
// its content (fields, members and scores, elements, strings; a stream's
// length and last id). Equal digests mean equal data, whatever order the
// keys and members are stored in.
std::string DataDigest(RedisClient& redis);

// Calls random requests and checks every answer: the status is one a
// client can act on (never INTERNAL, UNKNOWN, UNAVAILABLE or a timeout),
// it carries a google.rpc.Status with an ErrorInfo, INVALID_ARGUMENT names
// the field in a BadRequest, and a failed call leaves the DataDigest of
// `redis` unchanged. Reports failures with gtest's ADD_FAILURE; returns how
// many calls succeeded, so a caller can check the probe got past validation.
int ProbeRandomRequests(const std::shared_ptr<grpc::Channel>& channel,
                        const ProbeOptions& options);

// Sends every method of `service` (unary and server-streaming), with an
// admin's `token`, request bytes that are not a protobuf message at all,
// and checks each answer: INVALID_ARGUMENT naming the field `request` and
// the request's type, with the error details of every other answer, and
// no change to the DataDigest of `redis`. Reports failures with gtest's
// ADD_FAILURE; returns how many methods were called.
int ProbeUnparsableRequests(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& service,
                            const std::string& token, RedisClient& redis);

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_RANDOM_REQUESTS_H_
