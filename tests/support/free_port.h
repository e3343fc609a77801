// A free TCP port on 127.0.0.1 for a test's servers (redis-server, gRPC).
// The port is found by binding port 0 and closing the socket, so another
// process may take it before the caller binds it: callers that can retry
// on a bind failure should. Thread-safe.
#ifndef JALON_TESTS_SUPPORT_FREE_PORT_H_
#define JALON_TESTS_SUPPORT_FREE_PORT_H_

namespace jalon::testing {

// A port that was free on 127.0.0.1 a moment ago; 0 if none could be found.
int FreeLoopbackPort();

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_FREE_PORT_H_
