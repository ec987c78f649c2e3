// File: tests/testing/tcp_relay.h
//
// Test-only: a TCP relay on a free loopback port that forwards every
// accepted connection to one target host:port, and can fake network faults
// between a server and what it talks to (e.g. point a replica's database URL
// at the relay instead of at PostgreSQL):
//
//   Cut()       closes every relayed connection, both sides (a FIN to each,
//               or an RST where bytes were still unread: reads return 0 or
//               ECONNRESET), and stops listening while keeping its port:
//               new connects are refused (ECONNREFUSED), as by a crashed
//               host whose port is closed. A gRPC proxy in front of a cut
//               relay sees "connection refused" and fails over.
//   Blackhole() a silent partition: connections stay open and new ones are
//               accepted (and connected to the target), but no byte moves in
//               either direction; nothing is closed, so clients hang until
//               their own timeouts. Bytes already read by the relay stay
//               buffered. Only a side that itself resets (RST) or errors
//               while blackholed gets its pair closed.
//   Restore()   forwards again: connections that survived a Blackhole()
//               resume where they stopped (buffered bytes are delivered),
//               and (after a Cut()) the relay listens again on the same
//               port (should another socket have taken it meanwhile, which
//               SO_REUSEADDR allows, it says so on stderr and connects stay
//               refused); new connections are relayed normally.
//
// Each call has taken effect when it returns. A connection whose target
// refuses is closed (the client reads 0). Half-closes are forwarded (a FIN
// from one side becomes shutdown(SHUT_WR) on the other once its buffered
// bytes are out).
//
//   absl::StatusOr<std::unique_ptr<TcpRelay>> relay =
//       TcpRelay::Start("127.0.0.1", postgres->port());
//   options.url = absl::StrCat("postgresql://postgres@", (*relay)->address(), "/db");
//   ... start the server ...
//   (*relay)->Blackhole();   // queries now hang
//   (*relay)->Restore();
//   (*relay)->Cut();         // every database connection drops
//
// Thread safety: every method may be called from any thread. One thread
// with poll() does all the relaying; the destructor stops and joins it and
// closes every socket.
#ifndef MASKSERVE_TESTS_TESTING_TCP_RELAY_H_
#define MASKSERVE_TESTS_TESTING_TCP_RELAY_H_

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace maskserve {
namespace testing {

class TcpRelay {
 public:
  // Listens on 127.0.0.1:<free port> and relays to target_host:target_port
  // (resolved once, here; an IP address or a name such as "localhost").
  static absl::StatusOr<std::unique_ptr<TcpRelay>> Start(const std::string& target_host,
                                                         int target_port);

  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>".
  std::string address() const;

  // See the file comment. Each returns once the relay thread has applied it.
  void Cut();
  void Blackhole();
  void Restore();

  // Relayed connections open now.
  int active_connections() const { return active_.load(); }
  // Connections accepted since Start.
  int64_t accepted_connections() const { return accepted_.load(); }

 private:
  enum class Mode { kForward, kBlackhole, kCut };
  struct Pair;

  TcpRelay() = default;
  void SetMode(Mode mode);
  void Loop();

  int port_ = 0;
  int listen_fd_ = -1;
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;
  sockaddr_storage target_{};
  socklen_t target_len_ = 0;
  std::atomic<int> active_{0};
  std::atomic<int64_t> accepted_{0};

  std::mutex mu_;
  std::condition_variable applied_cv_;
  Mode requested_mode_ = Mode::kForward;  // guarded by mu_
  uint64_t requested_ = 0;                // guarded by mu_
  uint64_t applied_ = 0;                  // guarded by mu_
  bool stop_ = false;                     // guarded by mu_
  std::thread thread_;
};

}  // namespace testing
}  // namespace maskserve

#endif  // MASKSERVE_TESTS_TESTING_TCP_RELAY_H_
