// NginxProxy: a real nginx in front of in-process gRPC backends that answer
// GetProfile with their own name. Same x-maskserve-profile, same backend;
// keys spread; a stopped backend's keys move; SetUpstreams reroutes; large
// bodies and server streams pass. Skipped without nginx unless
// MASKSERVE_REQUIRE_NGINX=1.
#include "tests/testing/nginx_proxy.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "tests/testing/tcp_relay.h"

namespace maskserve::testing {
namespace {

namespace v1 = ::maskserve::v1;

// A Maskserve service that names itself: GetProfile and ImportProfile put
// the backend's name in Profile.description (and the x-maskserve-profile it
// received in label_names; GetProfile waits x-test-delay-ms); WatchTrainingJob streams `job_id`
// five times, 100 ms apart. Everything else stays UNIMPLEMENTED.
class NamedService final : public v1::Maskserve::Service {
 public:
  explicit NamedService(std::string name) : name_(std::move(name)) {}

  grpc::Status GetProfile(grpc::ServerContext* context, const v1::GetProfileRequest* request,
                          v1::Profile* response) override {
    // x-test-delay-ms: answer that much later (unless cancelled first).
    auto delay = context->client_metadata().find("x-test-delay-ms");
    if (delay != context->client_metadata().end()) {
      const auto until = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::atoi(
                             std::string(delay->second.data(), delay->second.size()).c_str()));
      while (std::chrono::steady_clock::now() < until) {
        if (context->IsCancelled()) return grpc::Status::CANCELLED;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    response->set_profile_id(request->profile_id());
    Describe(context, response);
    return grpc::Status::OK;
  }

  grpc::Status ImportProfile(grpc::ServerContext* context, const v1::ImportProfileRequest* request,
                             v1::Profile* response) override {
    response->set_profile_id(request->profile_id());
    response->set_version(request->data().size());
    Describe(context, response);
    return grpc::Status::OK;
  }

  grpc::Status WatchTrainingJob(grpc::ServerContext* context,
                                const v1::WatchTrainingJobRequest* request,
                                grpc::ServerWriter<v1::TrainingJob>* writer) override {
    for (int step = 1; step <= 5; ++step) {
      if (context->IsCancelled()) return grpc::Status::CANCELLED;
      v1::TrainingJob job;
      job.set_job_id(request->job_id());
      job.set_profile_id(name_);
      job.set_step(step);
      if (!writer->Write(job)) return grpc::Status::CANCELLED;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return grpc::Status::OK;
  }

 private:
  void Describe(grpc::ServerContext* context, v1::Profile* response) const {
    response->set_description(name_);
    auto header = context->client_metadata().find("x-maskserve-profile");
    if (header != context->client_metadata().end()) {
      response->add_label_names(std::string(header->second.data(), header->second.size()));
    }
  }

  const std::string name_;
};

struct Backend {
  std::string name;
  std::unique_ptr<NamedService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
  void Stop() {
    if (server == nullptr) return;
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    server.reset();
  }
};

std::unique_ptr<Backend> StartBackend(const std::string& name) {
  auto backend = std::make_unique<Backend>();
  backend->name = name;
  backend->service = std::make_unique<NamedService>(name);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &backend->port);
  builder.RegisterService(backend->service.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  backend->server = builder.BuildAndStart();
  EXPECT_NE(backend->server, nullptr);
  EXPECT_GT(backend->port, 0);
  return backend;
}

class NginxProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status available = NginxProxy::Available();
    if (!available.ok()) {
      if (NginxProxy::Required()) FAIL() << available;
      GTEST_SKIP() << available.message();
    }
    for (const char* name : {"alpha", "beta", "gamma"}) backends_.push_back(StartBackend(name));
  }

  void TearDown() override {
    if (proxy_ != nullptr && HasFailure()) {
      ADD_FAILURE() << "nginx error log:\n"
                    << proxy_->ErrorLog() << "\naccess log:\n"
                    << proxy_->AccessLog();
    }
    proxy_.reset();
    for (auto& backend : backends_) backend->Stop();
  }

  std::vector<std::string> Addresses(std::vector<int> which = {0, 1, 2}) const {
    std::vector<std::string> addresses;
    for (int i : which) addresses.push_back(backends_[i]->address());
    return addresses;
  }

  void StartProxy(std::vector<std::string> upstreams) {
    absl::StatusOr<std::unique_ptr<NginxProxy>> proxy = NginxProxy::Start(std::move(upstreams));
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
    channel_ = grpc::CreateChannel(proxy_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::Maskserve::NewStub(channel_);
  }

  // GetProfile(key) with x-maskserve-profile: key, through the proxy.
  grpc::Status Call(const std::string& key, v1::Profile* profile, int delay_ms = 0) {
    grpc::ClientContext context;
    context.AddMetadata("x-maskserve-profile", key);
    if (delay_ms > 0) context.AddMetadata("x-test-delay-ms", std::to_string(delay_ms));
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetProfileRequest request;
    request.set_profile_id(key);
    return stub_->GetProfile(&context, request, profile);
  }

  // The backend that answered GetProfile for `key`, or the error.
  absl::StatusOr<std::string> Route(const std::string& key) {
    v1::Profile profile;
    grpc::Status status = Call(key, &profile);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("code ", status.error_code(), ": ", status.error_message()));
    }
    EXPECT_EQ(profile.profile_id(), key);
    EXPECT_EQ(profile.label_names_size(), 1);
    if (profile.label_names_size() == 1) {
      EXPECT_EQ(profile.label_names(0), key);
    }
    return profile.description();
  }

  std::map<std::string, std::string> RouteAll(const std::vector<std::string>& keys) {
    std::map<std::string, std::string> routes;
    for (const std::string& key : keys) {
      absl::StatusOr<std::string> backend = Route(key);
      EXPECT_TRUE(backend.ok()) << key << ": " << backend.status();
      routes[key] = backend.ok() ? *backend : "";
    }
    return routes;
  }

  static std::vector<std::string> Keys(int n) {
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) keys.push_back(absl::StrCat("profile-", i));
    return keys;
  }

  std::vector<std::unique_ptr<Backend>> backends_;
  std::unique_ptr<NginxProxy> proxy_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Maskserve::Stub> stub_;
};

TEST_F(NginxProxyTest, SameProfileAlwaysReachesTheSameBackend) {
  StartProxy(Addresses());
  EXPECT_EQ(proxy_->address(), absl::StrCat("127.0.0.1:", proxy_->port()));
  for (const std::string& key : Keys(5)) {
    absl::StatusOr<std::string> first = Route(key);
    ASSERT_TRUE(first.ok()) << first.status();
    for (int i = 0; i < 10; ++i) {
      absl::StatusOr<std::string> again = Route(key);
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(*again, *first) << key;
    }
  }
  // The access log names the upstream and the profile of each call.
  EXPECT_TRUE(absl::StrContains(proxy_->AccessLog(), "profile=\"profile-0\""))
      << proxy_->AccessLog();
}

TEST_F(NginxProxyTest, ProfilesSpreadOverBackends) {
  StartProxy(Addresses());
  std::map<std::string, int> per_backend;
  for (const auto& [key, backend] : RouteAll(Keys(30))) ++per_backend[backend];
  EXPECT_GT(per_backend.size(), 1u);
  for (const auto& [backend, count] : per_backend) EXPECT_FALSE(backend.empty());
}

TEST_F(NginxProxyTest, StoppedBackendsProfilesMoveToAnother) {
  StartProxy(Addresses());
  const std::vector<std::string> keys = Keys(30);
  const std::map<std::string, std::string> before = RouteAll(keys);
  std::map<std::string, int> per_backend;
  for (const auto& [key, backend] : before) ++per_backend[backend];
  // Stop the busiest backend.
  std::string victim;
  for (const auto& [backend, count] : per_backend) {
    if (victim.empty() || count > per_backend[victim]) victim = backend;
  }
  for (auto& backend : backends_) {
    if (backend->name == victim) backend->Stop();
  }
  for (int round = 0; round < 2; ++round) {
    const std::map<std::string, std::string> after = RouteAll(keys);
    for (const std::string& key : keys) {
      EXPECT_NE(after.at(key), victim) << key;
      EXPECT_FALSE(after.at(key).empty()) << key;
      // Consistent hashing: only the stopped backend's profiles move.
      if (before.at(key) != victim) {
        EXPECT_EQ(after.at(key), before.at(key)) << key;
      }
    }
  }
}

TEST_F(NginxProxyTest, ACallInFlightWhenItsBackendDiesFailsAndIsNotRetried) {
  // alpha behind a relay (cut = crashed: connections drop, connects are
  // refused), beta direct.
  absl::StatusOr<std::unique_ptr<TcpRelay>> relay =
      TcpRelay::Start("127.0.0.1", backends_[0]->port);
  ASSERT_TRUE(relay.ok()) << relay.status();
  StartProxy({(*relay)->address(), backends_[1]->address()});
  std::string key;
  for (const auto& [candidate, backend] : RouteAll(Keys(30))) {
    if (backend == "alpha") key = candidate;
  }
  ASSERT_FALSE(key.empty()) << "no profile routed to alpha";

  grpc::Status in_flight;
  std::thread caller([&] {
    v1::Profile profile;
    in_flight = Call(key, &profile, /*delay_ms=*/2000);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  (*relay)->Cut();
  caller.join();
  // nginx had sent the call (a POST): it fails rather than moving to beta.
  EXPECT_FALSE(in_flight.ok());
  std::cout << "call in flight when its upstream died: code " << in_flight.error_code() << ": "
            << in_flight.error_message() << "\n";
  // The next call for the key is refused by alpha's port and goes to beta.
  absl::StatusOr<std::string> next = Route(key);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, "beta");
}

TEST_F(NginxProxyTest, NoLiveBackendIsUnavailable) {
  StartProxy(Addresses({0}));
  ASSERT_TRUE(Route("p").ok());
  backends_[0]->Stop();
  v1::Profile profile;
  grpc::Status status = Call("p", &profile);
  // nginx answers 502 Bad Gateway, which gRPC maps to UNAVAILABLE.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  std::cout << "no live upstream: code " << status.error_code() << ": " << status.error_message()
            << "\n";
}

TEST_F(NginxProxyTest, SetUpstreamsChangesRouting) {
  StartProxy(Addresses({0}));
  const std::vector<std::string> keys = Keys(30);
  for (const auto& [key, backend] : RouteAll(keys)) EXPECT_EQ(backend, "alpha") << key;

  ASSERT_TRUE(proxy_->SetUpstreams(Addresses({1})).ok());
  EXPECT_EQ(proxy_->upstreams(), Addresses({1}));
  // The same channel: nginx's old worker sent GOAWAY, gRPC reconnected.
  for (const auto& [key, backend] : RouteAll(keys)) EXPECT_EQ(backend, "beta") << key;

  ASSERT_TRUE(proxy_->SetUpstreams(Addresses({0, 1, 2})).ok());
  std::set<std::string> used;
  for (const auto& [key, backend] : RouteAll(keys)) used.insert(backend);
  EXPECT_GT(used.size(), 1u);
}

TEST_F(NginxProxyTest, BadUpstreamsAreRejectedAndTheOldOnesKeepServing) {
  EXPECT_EQ(NginxProxy::Start({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NginxProxy::Start({"127.0.0.1:1; evil"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  StartProxy(Addresses({2}));
  EXPECT_FALSE(proxy_->SetUpstreams({"no-port"}).ok());
  // Well-formed, but nginx refuses it (port out of range): its config test
  // says so, and nothing is reloaded.
  absl::Status refused = proxy_->SetUpstreams({"127.0.0.1:99999"});
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(proxy_->upstreams(), Addresses({2}));
  absl::StatusOr<std::string> backend = Route("still-there");
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ(*backend, "gamma");
}

TEST_F(NginxProxyTest, LargeRequestBodiesPass) {
  StartProxy(Addresses());
  grpc::ClientContext context;
  context.AddMetadata("x-maskserve-profile", "big");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ImportProfileRequest request;
  request.set_profile_id("big");
  request.set_data(std::string(16 << 20, 'x'));
  v1::Profile profile;
  grpc::Status status = stub_->ImportProfile(&context, request, &profile);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(profile.version(), 16u << 20);
}

TEST_F(NginxProxyTest, UnimplementedStaysUnimplemented) {
  StartProxy(Addresses());
  grpc::ClientContext context;
  context.AddMetadata("x-maskserve-profile", "p");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ModelInfo info;
  grpc::Status status = stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
}

TEST_F(NginxProxyTest, ServerStreamsPassAndABackendDyingMidStreamFailsTheCall) {
  // The backend sits behind a relay, so that the test can drop its TCP
  // connections the way a crashed replica does.
  absl::StatusOr<std::unique_ptr<TcpRelay>> relay =
      TcpRelay::Start("127.0.0.1", backends_[0]->port);
  ASSERT_TRUE(relay.ok()) << relay.status();
  StartProxy({(*relay)->address()});

  const auto watch = [&](bool cut_after_first) {
    grpc::ClientContext context;
    context.AddMetadata("x-maskserve-profile", "streamer");
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WatchTrainingJobRequest request;
    request.set_job_id("job-1");
    std::unique_ptr<grpc::ClientReader<v1::TrainingJob>> reader =
        stub_->WatchTrainingJob(&context, request);
    v1::TrainingJob job;
    int received = 0;
    while (reader->Read(&job)) {
      EXPECT_EQ(job.job_id(), "job-1");
      EXPECT_EQ(job.step(), static_cast<uint64_t>(received + 1));
      ++received;
      if (cut_after_first && received == 1) (*relay)->Cut();
    }
    return std::make_pair(received, reader->Finish());
  };

  auto [received, status] = watch(false);
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(received, 5);

  auto [cut_received, cut_status] = watch(true);
  EXPECT_EQ(cut_received, 1);
  EXPECT_FALSE(cut_status.ok());
  std::cout << "mid-stream upstream loss through nginx: code " << cut_status.error_code() << ": "
            << cut_status.error_message() << "\n";
  (*relay)->Restore();
}

TEST(NginxProxyBinaryTest, HonoursMaskserveNginx) {
  const char* saved = std::getenv("MASKSERVE_NGINX");
  const std::string old = saved != nullptr ? saved : "";
  ::setenv("MASKSERVE_NGINX", "/opt/elsewhere/nginx", 1);
  EXPECT_EQ(NginxProxy::Binary(), "/opt/elsewhere/nginx");
  ::unsetenv("MASKSERVE_NGINX");
  EXPECT_EQ(NginxProxy::Binary(), "/usr/sbin/nginx");
  if (saved != nullptr) ::setenv("MASKSERVE_NGINX", old.c_str(), 1);
}

}  // namespace
}  // namespace maskserve::testing
