// TcpRelay: a loopback TCP relay with fault modes (see the header).
#include "tests/testing/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/http_get.h"

namespace maskserve {
namespace testing {
namespace {

// Bytes buffered per direction before the relay stops reading that side.
constexpr size_t kMaxBuffered = 256 * 1024;
constexpr size_t kChunk = 64 * 1024;
constexpr int kBacklog = 128;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void NoDelay(int fd) {
  int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

struct TcpRelay::Pair {
  int client = -1;
  int upstream = -1;
  bool connecting = true;     // non-blocking connect to the target in progress
  std::string to_upstream;    // read from the client, not yet written
  std::string to_client;      // read from the target, not yet written
  bool client_eof = false;    // the client sent FIN
  bool upstream_eof = false;  // the target sent FIN
  bool upstream_shut = false;
  bool client_shut = false;

  bool closed() const { return client < 0; }
  void Close() {
    CloseFd(client);
    CloseFd(upstream);
  }
};

absl::StatusOr<std::unique_ptr<TcpRelay>> TcpRelay::Start(const std::string& target_host,
                                                          int target_port) {
  auto relay = std::unique_ptr<TcpRelay>(new TcpRelay());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(target_port);
  const int rc = ::getaddrinfo(target_host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("resolve ", target_host, ":", target_port, ": ", ::gai_strerror(rc)));
  }
  std::memcpy(&relay->target_, found->ai_addr, found->ai_addrlen);
  relay->target_len_ = found->ai_addrlen;
  ::freeaddrinfo(found);

  // The port is bound explicitly (picked free first): a socket bound to
  // port 0 loses its port when Cut() stops listening, one bound to a number
  // keeps it. SO_REUSEADDR: listening again must not conflict with the cut
  // connections' TIME_WAIT.
  std::string last_error = "no attempt";
  for (int attempt = 0; attempt < 10 && relay->listen_fd_ < 0; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError("socket: " + ErrnoText(errno));
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(*port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd, kBacklog) != 0) {
      last_error = ErrnoText(errno);  // taken since it was picked: another
      ::close(fd);
      continue;
    }
    relay->listen_fd_ = fd;
    relay->port_ = *port;
  }
  if (relay->listen_fd_ < 0) {
    return absl::UnavailableError("listen on a free loopback port: " + last_error);
  }
  int wake[2];
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::InternalError("pipe: " + ErrnoText(errno));
  }
  relay->wake_read_fd_ = wake[0];
  relay->wake_write_fd_ = wake[1];
  relay->thread_ = std::thread([r = relay.get()] { r->Loop(); });
  return relay;
}

TcpRelay::~TcpRelay() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    const char byte = 0;
    (void)!::write(wake_write_fd_, &byte, 1);
    thread_.join();
  }
  CloseFd(listen_fd_);
  CloseFd(wake_read_fd_);
  CloseFd(wake_write_fd_);
}

std::string TcpRelay::address() const { return absl::StrCat("127.0.0.1:", port_); }

void TcpRelay::Cut() { SetMode(Mode::kCut); }
void TcpRelay::Blackhole() { SetMode(Mode::kBlackhole); }
void TcpRelay::Restore() { SetMode(Mode::kForward); }

void TcpRelay::SetMode(Mode mode) {
  std::unique_lock<std::mutex> lock(mu_);
  requested_mode_ = mode;
  const uint64_t mine = ++requested_;
  const char byte = 0;
  (void)!::write(wake_write_fd_, &byte, 1);  // a full pipe already wakes the loop
  applied_cv_.wait(lock, [&] { return applied_ >= mine || stop_; });
}

void TcpRelay::Loop() {
  std::vector<std::unique_ptr<Pair>> pairs;
  std::vector<pollfd> fds;
  Mode mode = Mode::kForward;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      const bool changed = applied_ != requested_;
      if (changed) {
        const Mode was = mode;
        mode = requested_mode_;
        if (mode == Mode::kCut) {
          for (auto& pair : pairs) pair->Close();
          // Stop listening but keep the port: connects are refused, and
          // connections waiting in the backlog are reset.
          if (was != Mode::kCut) ::shutdown(listen_fd_, SHUT_RD);
        } else if (was == Mode::kCut) {
          if (::listen(listen_fd_, kBacklog) != 0) {
            std::fprintf(stderr, "TcpRelay: listen again on port %d: %s\n", port_,
                         ErrnoText(errno).c_str());
          }
        }
      }
      std::vector<std::unique_ptr<Pair>> open;
      for (auto& pair : pairs) {
        if (!pair->closed()) open.push_back(std::move(pair));
      }
      pairs.swap(open);
      active_.store(static_cast<int>(pairs.size()));
      if (changed) {
        applied_ = requested_;
        applied_cv_.notify_all();
      }
    }

    // Blackholed pairs are polled for nothing: poll() still reports
    // POLLERR/POLLHUP (a reset), never plain data or a FIN, so no spinning.
    fds.clear();
    fds.push_back({wake_read_fd_, POLLIN, 0});
    fds.push_back({mode == Mode::kCut ? -1 : listen_fd_, POLLIN, 0});
    for (const auto& pair : pairs) {
      short client = 0;
      short upstream = 0;
      if (mode == Mode::kForward) {
        if (!pair->client_eof && pair->to_upstream.size() < kMaxBuffered) client |= POLLIN;
        if (!pair->to_client.empty()) client |= POLLOUT;
        if (pair->connecting) {
          upstream |= POLLOUT;
        } else {
          if (!pair->upstream_eof && pair->to_client.size() < kMaxBuffered) upstream |= POLLIN;
          if (!pair->to_upstream.empty()) upstream |= POLLOUT;
        }
      }
      // A side done both ways (its FIN read, ours sent) is not polled: it
      // would report POLLHUP for ever.
      fds.push_back({pair->client_eof && pair->client_shut ? -1 : pair->client, client, 0});
      fds.push_back({pair->upstream_eof && pair->upstream_shut ? -1 : pair->upstream, upstream, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;  // cannot happen with valid descriptors
    }
    if (fds[0].revents != 0) {
      char drain[64];
      while (::read(wake_read_fd_, drain, sizeof(drain)) > 0) {
      }
    }

    for (size_t i = 0; i < pairs.size(); ++i) {
      Pair& pair = *pairs[i];
      const pollfd& c = fds[2 + 2 * i];
      const pollfd& u = fds[3 + 2 * i];
      if (pair.connecting && (u.revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(pair.upstream, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
          pair.Close();  // the target refused: the client reads EOF
          continue;
        }
        pair.connecting = false;
        NoDelay(pair.upstream);
        continue;  // poll again with the connected socket's events
      }
      // An error or a hang-up the side is not being read for (a reset, or
      // a socket shut both ways): nothing more can move through the pair.
      const auto broken = [](const pollfd& p) {
        return (p.revents & (POLLERR | POLLNVAL)) != 0 ||
               ((p.revents & POLLHUP) != 0 && (p.events & POLLIN) == 0);
      };
      if (broken(c) || broken(u)) {
        pair.Close();
        continue;
      }
      if (mode != Mode::kForward) continue;

      char buffer[kChunk];
      bool failed = false;
      const auto read_side = [&](const pollfd& p, std::string& into, bool& eof) {
        if ((p.events & POLLIN) == 0 || (p.revents & (POLLIN | POLLHUP)) == 0) return;
        const ssize_t n = ::recv(p.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n > 0) {
          into.append(buffer, static_cast<size_t>(n));
        } else if (n == 0) {
          eof = true;
        } else if (!WouldBlock(errno)) {
          failed = true;
        }
      };
      const auto write_side = [&](const pollfd& p, std::string& from) {
        if ((p.revents & POLLOUT) == 0 || from.empty()) return;
        const ssize_t n = ::send(p.fd, from.data(), from.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          from.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && !WouldBlock(errno)) {
          failed = true;
        }
      };
      read_side(c, pair.to_upstream, pair.client_eof);
      read_side(u, pair.to_client, pair.upstream_eof);
      write_side(c, pair.to_client);
      write_side(u, pair.to_upstream);
      if (failed) {
        pair.Close();
        continue;
      }
      // Forward half-closes once the bytes before them are out.
      if (pair.client_eof && pair.to_upstream.empty() && !pair.upstream_shut) {
        ::shutdown(pair.upstream, SHUT_WR);
        pair.upstream_shut = true;
      }
      if (pair.upstream_eof && pair.to_client.empty() && !pair.client_shut) {
        ::shutdown(pair.client, SHUT_WR);
        pair.client_shut = true;
      }
      if (pair.upstream_shut && pair.client_shut) pair.Close();
    }

    if ((fds[1].revents & POLLIN) != 0) {
      for (;;) {
        int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) break;  // EAGAIN: no more for now
        accepted_.fetch_add(1);
        NoDelay(client);
        auto pair = std::make_unique<Pair>();
        pair->client = client;
        pair->upstream = ::socket(target_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (pair->upstream < 0) {
          pair->Close();
          continue;
        }
        const int rc =
            ::connect(pair->upstream, reinterpret_cast<const sockaddr*>(&target_), target_len_);
        if (rc == 0) {
          pair->connecting = false;
          NoDelay(pair->upstream);
        } else if (errno != EINPROGRESS) {
          pair->Close();
          continue;
        }
        pairs.push_back(std::move(pair));
      }
      active_.store(static_cast<int>(pairs.size()));
    }
  }
  for (auto& pair : pairs) pair->Close();
  active_.store(0);
  std::lock_guard<std::mutex> lock(mu_);
  applied_ = requested_;
  applied_cv_.notify_all();
}

}  // namespace testing
}  // namespace maskserve
