// The write floor: what redis-server alone spends on the writes of one
// CreateAction and one UpdateAction, pipelined `batch` writes deep on one
// connection, (a) sent as plain commands (no script, no check, no
// atomicity), the cheapest way Redis can be asked to store them, and (b)
// as the least commit script the SPEC allows: one script with only the
// checks it requires (request id and absence for a create, the version for
// an update) and the same writes. The payloads are a real
// action's, read back from the service's keys, so the bytes are the ones the
// service writes. No implementation of the service's contract can make Redis
// do less per write than this, so it bounds the throughput ratio a write RPC
// can reach when Redis shares the CPUs with the client and the server.
#ifndef JALON_BENCH_WRITE_FLOOR_H_
#define JALON_BENCH_WRITE_FLOOR_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/redis.h"

namespace jalon::bench {

struct WriteFloorOptions {
  // An action the service created and updated (its state, its history and
  // its events are read back for their bytes).
  std::string action_id;
  // Writes per pipelined round trip, and writes measured per kind.
  int batch = 64;
  int writes = 20000;
  // redis-server CPU time used so far, in seconds (INFO cpu).
  std::function<absl::StatusOr<double>()> redis_cpu;
};

struct WriteFloor {
  // redis-server CPU time per write, microseconds: the plain commands, and
  // the least commit script the SPEC allows (its checks, then the same
  // writes, atomic).
  double create_us = 0;
  double update_us = 0;
  double script_create_us = 0;
  double script_update_us = 0;
  // Sizes of the payloads written, bytes.
  size_t create_event = 0, update_event = 0, state = 0, create_history = 0,
         update_history = 0;
};

// Writes only under keys of its own ("jalon:bench:floor:..."), which it
// removes afterwards.
absl::StatusOr<WriteFloor> MeasureWriteFloor(RedisClient& redis,
                                             const WriteFloorOptions& options);

}  // namespace jalon::bench

#endif  // JALON_BENCH_WRITE_FLOOR_H_
