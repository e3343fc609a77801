// Loopback ports for tests. Jalon's services are started on port 0 and say
// which port they got (ChildProcess::WaitForListening); redis-server cannot
// do that, so RedisServer probes a free port here and retries when another
// process took it before Redis could bind it. Thread-safe.
#ifndef JALON_TESTS_SUPPORT_FREE_PORT_H_
#define JALON_TESTS_SUPPORT_FREE_PORT_H_

#include <string>

namespace jalon::testing {

// A port that was free on 127.0.0.1 a moment ago; 0 if none could be found.
int FreeLoopbackPort();

// A port on 127.0.0.1 where nothing listens for as long as this object
// lives: its socket is bound and never listens, so a connection to it is
// refused and no other process can take the port meanwhile. For tests of
// "the server is down".
class RefusingLoopbackPort {
 public:
  RefusingLoopbackPort();
  ~RefusingLoopbackPort();
  RefusingLoopbackPort(const RefusingLoopbackPort&) = delete;
  RefusingLoopbackPort& operator=(const RefusingLoopbackPort&) = delete;
  // "127.0.0.1:PORT"; the port is 0 if no socket could be bound.
  std::string address() const;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_FREE_PORT_H_
