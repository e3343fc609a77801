// How a Jalon client (jalonctl, a service calling another) dials a Jalon
// service: with one retry rule, for a call the server cancelled.
//
// gRPC 1.51 answers CANCELLED, not UNAVAILABLE, to a call that reaches a
// server after its Shutdown began (core drops such "zombie" calls): on every
// rolling update or stop, the calls a client sent in the instant before it
// saw the server's GOAWAY. They never reached a handler, so sending them
// again is safe, and gRPC does it itself under this rule, to another replica
// or a new connection. docs/deploy.md ("Shutdown and rolling updates") has
// the one case where a cancelled call may have run.
#ifndef JALON_SERVICES_COMMON_CHANNEL_H_
#define JALON_SERVICES_COMMON_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

namespace jalon {

// The service config (JSON) of a channel to `service` (its full name, e.g.
// roadmap::v1::RoadmapService::service_full_name()): every method is tried
// up to 3 times when the server answers CANCELLED, after a randomised
// backoff of up to 0.1 s, then 0.2 s. No other status is retried.
std::string ClientServiceConfig(std::string_view service);

// An insecure channel to `target` (host:port, or a name resolver target)
// for `service`, with `args` and that service config.
std::shared_ptr<grpc::Channel> Dial(const std::string& target,
                                    std::string_view service,
                                    grpc::ChannelArguments args = {});

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_CHANNEL_H_
