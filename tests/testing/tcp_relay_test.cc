// TcpRelay: bytes flow, Cut closes and refuses, Blackhole stalls without
// closing, Restore resumes; against a tiny echo server.
#include "tests/testing/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/http_get.h"

namespace maskserve::testing {
namespace {

// Echoes every connection's bytes back until the client's FIN, then closes.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listen_fd_, 64), 0);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    EXPECT_EQ(::pipe2(stop_pipe_, O_CLOEXEC), 0);
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~EchoServer() {
    (void)!::write(stop_pipe_[1], "x", 1);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : echoers_) t.join();
    for (int fd : connections_) ::close(fd);
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }

  int port() const { return port_; }

 private:
  void Accept() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.push_back(fd);
      echoers_.emplace_back([fd] {
        char buffer[16384];
        for (;;) {
          const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
          if (n <= 0) break;
          if (::send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        ::shutdown(fd, SHUT_WR);
      });
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> connections_;
  std::vector<std::thread> echoers_;
};

// A connected client socket, closed on destruction.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    connect_errno_ = connected_ ? 0 : errno;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  int connect_errno() const { return connect_errno_; }
  int fd() const { return fd_; }

  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads until `n` bytes arrived, EOF/error, or `timeout`.
  std::string Read(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[65536];
      const ssize_t r = ::recv(fd_, buffer, std::min(sizeof(buffer), n - got.size()), 0);
      if (r <= 0) break;
      got.append(buffer, static_cast<size_t>(r));
    }
    return got;
  }

  // True when the connection ends (EOF or reset) within `timeout`.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buffer[4096];
      const ssize_t r = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (r <= 0) return true;  // 0: EOF; <0: ECONNRESET
    }
  }

  // True when nothing at all (no byte, no EOF) arrives within `timeout`.
  bool SilentFor(std::chrono::milliseconds timeout) {
    pollfd p = {fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
};

std::unique_ptr<TcpRelay> StartRelay(int target_port) {
  absl::StatusOr<std::unique_ptr<TcpRelay>> relay = TcpRelay::Start("127.0.0.1", target_port);
  EXPECT_TRUE(relay.ok()) << relay.status();
  return relay.ok() ? std::move(*relay) : nullptr;
}

// Polls until `relay` counts `n` open connections (accepting is async).
bool WaitActive(const TcpRelay& relay, int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (relay.active_connections() == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(TcpRelayTest, ForwardsBytesBothWays) {
  EchoServer echo;
  std::unique_ptr<TcpRelay> relay = StartRelay(echo.port());
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(relay->address(), "127.0.0.1:" + std::to_string(relay->port()));
  Client client(relay->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("hello"));
  EXPECT_EQ(client.Read(5), "hello");
  EXPECT_TRUE(WaitActive(*relay, 1));
  EXPECT_EQ(relay->accepted_connections(), 1);

  // 4 MiB (more than every buffer on the way) while reading concurrently.
  std::string big(4 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + (i >> 12));
  std::thread writer([&] { EXPECT_TRUE(client.Send(big)); });
  const std::string back = client.Read(big.size(), std::chrono::seconds(10));
  writer.join();
  EXPECT_TRUE(back == big) << "got " << back.size() << " of " << big.size() << " bytes";
}

TEST(TcpRelayTest, ForwardsHalfClose) {
  EchoServer echo;
  std::unique_ptr<TcpRelay> relay = StartRelay(echo.port());
  ASSERT_NE(relay, nullptr);
  Client client(relay->port());
  ASSERT_TRUE(client.Send("last words"));
  ASSERT_EQ(::shutdown(client.fd(), SHUT_WR), 0);
  // The echo server sees the FIN only through the relay, echoes, closes.
  EXPECT_EQ(client.Read(100), "last words");
  EXPECT_TRUE(client.ClosedWithin(std::chrono::seconds(5)));
  EXPECT_TRUE(WaitActive(*relay, 0));
}

TEST(TcpRelayTest, CutClosesConnectionsAndRefusesNewOnesUntilRestore) {
  EchoServer echo;
  std::unique_ptr<TcpRelay> relay = StartRelay(echo.port());
  ASSERT_NE(relay, nullptr);
  Client first(relay->port());
  Client second(relay->port());
  ASSERT_TRUE(first.Send("a"));
  ASSERT_TRUE(second.Send("b"));
  EXPECT_EQ(first.Read(1), "a");
  EXPECT_EQ(second.Read(1), "b");

  relay->Cut();
  EXPECT_EQ(relay->active_connections(), 0);
  EXPECT_TRUE(first.ClosedWithin(std::chrono::seconds(2)));
  EXPECT_TRUE(second.ClosedWithin(std::chrono::seconds(2)));

  // New connections are refused; the relay keeps its port.
  for (int i = 0; i < 3; ++i) {
    Client late(relay->port());
    EXPECT_FALSE(late.connected());
    EXPECT_EQ(late.connect_errno(), ECONNREFUSED);
  }
  EXPECT_EQ(relay->active_connections(), 0);
  EXPECT_EQ(relay->accepted_connections(), 2);
  relay->Cut();  // twice is fine

  relay->Restore();
  Client again(relay->port());
  ASSERT_TRUE(again.connected()) << std::strerror(again.connect_errno());
  ASSERT_TRUE(again.Send("back"));
  EXPECT_EQ(again.Read(4), "back");

  // From Cut to Blackhole: connects succeed again, bytes do not move.
  relay->Cut();
  relay->Blackhole();
  Client stalled(relay->port());
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(stalled.Send("later"));
  EXPECT_TRUE(stalled.SilentFor(std::chrono::milliseconds(100)));
  relay->Restore();
  EXPECT_EQ(stalled.Read(5), "later");
}

TEST(TcpRelayTest, BlackholeStallsWithoutClosingAndRestoreResumes) {
  EchoServer echo;
  std::unique_ptr<TcpRelay> relay = StartRelay(echo.port());
  ASSERT_NE(relay, nullptr);
  Client client(relay->port());
  ASSERT_TRUE(client.Send("before"));
  EXPECT_EQ(client.Read(6), "before");

  relay->Blackhole();
  ASSERT_TRUE(client.Send("during"));
  EXPECT_TRUE(client.SilentFor(std::chrono::milliseconds(300)));
  // New connections are accepted but get nothing either.
  Client fresh(relay->port());
  ASSERT_TRUE(fresh.connected());
  ASSERT_TRUE(fresh.Send("new"));
  EXPECT_TRUE(fresh.SilentFor(std::chrono::milliseconds(200)));
  EXPECT_TRUE(WaitActive(*relay, 2));

  relay->Restore();
  EXPECT_EQ(client.Read(6), "during");
  EXPECT_EQ(fresh.Read(3), "new");
  ASSERT_TRUE(client.Send("after"));
  EXPECT_EQ(client.Read(5), "after");

  // Blackhole then Cut closes the stalled connections too.
  relay->Blackhole();
  relay->Cut();
  EXPECT_TRUE(client.ClosedWithin(std::chrono::seconds(2)));
  EXPECT_TRUE(fresh.ClosedWithin(std::chrono::seconds(2)));
}

TEST(TcpRelayTest, TargetDownClosesTheClient) {
  absl::StatusOr<int> free_port = PickFreePort();
  ASSERT_TRUE(free_port.ok());
  std::unique_ptr<TcpRelay> relay = StartRelay(*free_port);  // nothing listens there
  ASSERT_NE(relay, nullptr);
  Client client(relay->port());
  ASSERT_TRUE(client.connected());
  EXPECT_TRUE(client.ClosedWithin(std::chrono::seconds(2)));
  EXPECT_TRUE(WaitActive(*relay, 0));
}

TEST(TcpRelayTest, DestructorClosesOpenConnections) {
  EchoServer echo;
  std::unique_ptr<TcpRelay> relay = StartRelay(echo.port());
  ASSERT_NE(relay, nullptr);
  Client client(relay->port());
  ASSERT_TRUE(client.Send("x"));
  EXPECT_EQ(client.Read(1), "x");
  relay->Blackhole();
  relay.reset();
  EXPECT_TRUE(client.ClosedWithin(std::chrono::seconds(2)));
}

}  // namespace
}  // namespace maskserve::testing
