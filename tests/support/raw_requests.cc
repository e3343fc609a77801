#include "tests/support/raw_requests.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"

namespace jalon::testing {
namespace {

// An HPACK integer with an `prefix`-bit prefix (RFC 7541, 5.1).
void AppendInt(std::string* out, size_t n, int prefix) {
  const size_t max = (size_t{1} << prefix) - 1;
  if (n < max) {
    out->push_back(static_cast<char>(n));
    return;
  }
  out->push_back(static_cast<char>(max));
  n -= max;
  while (n >= 128) {
    out->push_back(static_cast<char>(n % 128 + 128));
    n /= 128;
  }
  out->push_back(static_cast<char>(n));
}

// A literal header field without indexing, new name, no Huffman coding.
void AppendHeader(std::string* out, const std::string& name,
                  const std::string& value) {
  out->push_back(0);
  AppendInt(out, name.size(), 7);
  out->append(name);
  AppendInt(out, value.size(), 7);
  out->append(value);
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                  const std::string& payload) {
  std::string f;
  const uint32_t n = payload.size();
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    f.push_back(static_cast<char>(stream >> shift));
  }
  return f + payload;
}

// Why ReadUntil stopped.
enum class ReadEnd { kDone, kClosed, kTimedOut };

// Connects to 127.0.0.1:`port`, sends `bytes`, then reads into `in` until
// `done(in)`, the peer closes, or `timeout_ms` passes.
absl::StatusOr<ReadEnd> Exchange(
    int port, const std::string& bytes, int timeout_ms,
    const std::function<bool(const std::string&)>& done, std::string* in) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(bytes.size())) {
    close(fd);
    return absl::UnavailableError("cannot connect or send");
  }
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  ReadEnd why = ReadEnd::kTimedOut;
  while (!done(*in)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      why = ReadEnd::kClosed;
      break;
    }
    in->append(buf, n);
  }
  if (done(*in)) why = ReadEnd::kDone;
  close(fd);
  return why;
}

// Whether `in` holds the end of stream 1: trailers (HEADERS with
// END_STREAM) or RST_STREAM.
bool StreamOneEnded(const std::string& in) {
  for (size_t at = 0; in.size() - at >= 9;) {
    const auto byte = [&](size_t i) {
      return static_cast<uint32_t>(static_cast<uint8_t>(in[at + i]));
    };
    const uint32_t length = byte(0) << 16 | byte(1) << 8 | byte(2);
    const uint32_t stream =
        (byte(5) << 24 | byte(6) << 16 | byte(7) << 8 | byte(8)) & 0x7fffffff;
    if (in.size() - at < 9 + length) return false;
    if (stream == 1 &&
        ((byte(3) == 0x1 && (byte(4) & 0x1)) || byte(3) == 0x3)) {
      return true;
    }
    at += 9 + length;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> RawExchange(int port, const std::string& bytes,
                                        int timeout_ms,
                                        const std::string& until) {
  std::string in;
  auto end = Exchange(
      port, bytes, timeout_ms,
      [&until](const std::string& got) {
        return !until.empty() && got.find(until) != std::string::npos;
      },
      &in);
  if (!end.ok()) return end.status();
  if (*end == ReadEnd::kTimedOut) {
    return absl::DeadlineExceededError("the connection is still open");
  }
  return in;
}

absl::StatusOr<std::string> RawGrpcCall(
    int port, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& headers,
    int timeout_ms) {
  std::string block;
  AppendHeader(&block, ":method", "POST");
  AppendHeader(&block, ":scheme", "http");
  AppendHeader(&block, ":path", path);
  AppendHeader(&block, ":authority", "127.0.0.1:" + std::to_string(port));
  AppendHeader(&block, "content-type", "application/grpc");
  AppendHeader(&block, "te", "trailers");
  for (const auto& [name, value] : headers) AppendHeader(&block, name, value);
  const std::string message(5, '\0');  // uncompressed, 0 bytes: {}
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  out += Frame(0x4, 0, 0, "");         // SETTINGS
  out += Frame(0x1, 0x4, 1, block);    // HEADERS, END_HEADERS
  out += Frame(0x0, 0x1, 1, message);  // DATA, END_STREAM
  std::string in;
  auto end = Exchange(port, out, timeout_ms, StreamOneEnded, &in);
  if (!end.ok()) return end.status();
  switch (*end) {
    case ReadEnd::kDone:
      return in;
    case ReadEnd::kClosed:
      return absl::UnavailableError(
          "the connection closed before the call's stream ended");
    case ReadEnd::kTimedOut:
      break;
  }
  return absl::DeadlineExceededError("the call's stream did not end");
}

}  // namespace jalon::testing
