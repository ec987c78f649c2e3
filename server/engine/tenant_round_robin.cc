#include "server/engine/tenant_round_robin.h"

#include <algorithm>
#include <utility>

namespace maskserve {

void TenantRoundRobin::Push(const std::string& tenant, std::string item) {
  std::deque<std::string>& queue = queues_[tenant];
  if (queue.empty()) turns_.push_back(tenant);
  queue.push_back(std::move(item));
  ++size_;
}

std::optional<std::string> TenantRoundRobin::Pop() {
  if (turns_.empty()) return std::nullopt;
  const std::string tenant = std::move(turns_.front());
  turns_.pop_front();
  auto it = queues_.find(tenant);
  std::string item = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) {
    queues_.erase(it);
  } else {
    turns_.push_back(tenant);
  }
  --size_;
  return item;
}

bool TenantRoundRobin::Erase(const std::string& tenant, const std::string& item) {
  auto it = queues_.find(tenant);
  if (it == queues_.end()) return false;
  auto found = std::find(it->second.begin(), it->second.end(), item);
  if (found == it->second.end()) return false;
  it->second.erase(found);
  --size_;
  if (it->second.empty()) {
    queues_.erase(it);
    turns_.erase(std::find(turns_.begin(), turns_.end(), tenant));
  }
  return true;
}

}  // namespace maskserve
