// The trainer's queue: FIFO within a tenant, round-robin across tenants.
#include "server/engine/tenant_round_robin.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace maskserve {
namespace {

std::vector<std::string> Drain(TenantRoundRobin& queue) {
  std::vector<std::string> out;
  while (std::optional<std::string> item = queue.Pop()) out.push_back(*item);
  return out;
}

TEST(TenantRoundRobinTest, OneTenantsBacklogDoesNotStarveTheOthers) {
  TenantRoundRobin queue;
  for (int i = 1; i <= 4; ++i) queue.Push("flood", "f" + std::to_string(i));
  queue.Push("quiet", "q1");
  queue.Push("other", "o1");
  queue.Push("quiet", "q2");
  EXPECT_EQ(queue.size(), 7u);
  EXPECT_EQ(Drain(queue), (std::vector<std::string>{"f1", "q1", "o1", "f2", "q2", "f3", "f4"}));
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.Pop().has_value());
}

TEST(TenantRoundRobinTest, EraseRemovesOneItemAndAnEmptiedTenantsTurn) {
  TenantRoundRobin queue;
  queue.Push("a", "a1");
  queue.Push("b", "b1");
  queue.Push("a", "a2");
  EXPECT_TRUE(queue.Erase("b", "b1"));
  EXPECT_FALSE(queue.Erase("b", "b1"));
  EXPECT_FALSE(queue.Erase("c", "a1"));
  EXPECT_TRUE(queue.Erase("a", "a1"));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(Drain(queue), (std::vector<std::string>{"a2"}));
}

}  // namespace
}  // namespace maskserve
