// Hot swap under load: a steady Predict load on a profile while it is
// retrained and swapped many times. Zero failed requests, versions never go
// backwards per client, and every response's probabilities are those of the
// version it reports.
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

using testing::Connect;
using testing::MakeTempDir;
using testing::TestClient;
using testing::TestServerOptions;

TEST(HotSwapTest, RetrainingUnderLoadFailsNoRequest) {
  auto server = MaskserveServer::Start(TestServerOptions(MakeTempDir("hotswap")));
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient trainer(Connect((*server)->port()), "");
  ASSERT_EQ(trainer.Train("hot", v1::XPEFT_HARD, 30, 1).state(), v1::SUCCEEDED);

  constexpr int kRetrains = 4;
  std::atomic<bool> done{false};
  std::atomic<int> requests{0}, failures{0};
  std::mutex mu;
  std::map<uint64_t, float> probability_of_version;  // first label of the fixed input
  bool inconsistent = false, backwards = false;
  std::string first_failure;
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&] {
      TestClient client(Connect((*server)->port()), "");
      uint64_t last_version = 0;
      while (!done.load()) {
        v1::PredictResponse response;
        grpc::Status status = client.Predict("hot", {"a great film"}, &response);
        ++requests;
        if (!status.ok()) {
          ++failures;
          std::lock_guard<std::mutex> lock(mu);
          first_failure = status.error_message();
          continue;
        }
        const uint64_t version = response.profile_version();
        const float p = response.predictions(0).probabilities(0);
        std::lock_guard<std::mutex> lock(mu);
        if (version < last_version) backwards = true;
        last_version = version;
        auto [it, added] = probability_of_version.emplace(version, p);
        if (!added && std::abs(it->second - p) > 1e-5 && !inconsistent) {
          inconsistent = true;
          first_failure = "v" + std::to_string(version) + ": " + std::to_string(it->second) +
                          " vs " + std::to_string(p);
        }
      }
    });
  }
  for (int i = 0; i < kRetrains; ++i) {
    v1::TrainingJob job = trainer.Train("hot", v1::XPEFT_HARD, 30, unsigned(10 + i));
    ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
    EXPECT_EQ(job.published_version(), uint64_t(i + 2));
  }
  // Let the clients observe the last version.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  done = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failures.load(), 0) << "of " << requests.load() << " requests: " << first_failure;
  EXPECT_FALSE(backwards);
  EXPECT_FALSE(inconsistent) << first_failure;
  EXPECT_GT(requests.load(), 10);
  EXPECT_EQ(probability_of_version.rbegin()->first, uint64_t(kRetrains + 1));
  EXPECT_GE(probability_of_version.size(), 2u);
}

}  // namespace
}  // namespace maskserve
