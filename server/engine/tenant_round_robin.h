// File: server/engine/tenant_round_robin.h
//
// A FIFO queue per tenant, served round-robin: Pop() takes the oldest item
// of the tenant whose turn it is, then moves that tenant to the back. One
// tenant's hundred queued items therefore wait behind every other tenant's
// next one instead of in front of them. The training manager queues jobs
// in it.
//
//   TenantRoundRobin queue;
//   queue.Push("acme", "job-1");
//   std::optional<std::string> next = queue.Pop();
//
// Thread safety: none; the owner locks.
#ifndef MASKSERVE_SERVER_ENGINE_TENANT_ROUND_ROBIN_H_
#define MASKSERVE_SERVER_ENGINE_TENANT_ROUND_ROBIN_H_

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>

namespace maskserve {

class TenantRoundRobin {
 public:
  void Push(const std::string& tenant, std::string item);
  // The next item in round-robin order, or nullopt when empty.
  std::optional<std::string> Pop();
  // Removes `item` from `tenant`'s queue; false when it is not queued.
  bool Erase(const std::string& tenant, const std::string& item);
  bool empty() const { return queues_.empty(); }
  size_t size() const { return size_; }

 private:
  std::map<std::string, std::deque<std::string>> queues_;  // never holds an empty queue
  std::deque<std::string> turns_;                          // tenants with items, next first
  size_t size_ = 0;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_TENANT_ROUND_ROBIN_H_
