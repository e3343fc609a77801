#include "tests/support/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace jalon::testing {

namespace {

// Binds a new socket to 127.0.0.1:0; the socket (or -1) and its port.
int BindAnyLoopbackPort(int* port) {
  *port = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

int FreeLoopbackPort() {
  int port = 0;
  int fd = BindAnyLoopbackPort(&port);
  if (fd >= 0) close(fd);
  return port;
}

RefusingLoopbackPort::RefusingLoopbackPort() {
  fd_ = BindAnyLoopbackPort(&port_);
}

RefusingLoopbackPort::~RefusingLoopbackPort() {
  if (fd_ >= 0) close(fd_);
}

std::string RefusingLoopbackPort::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

}  // namespace jalon::testing
