// File: core/peft/profile_pool.h
//
// The serving device's tables of resident profiles: what each profile owns
// is kept on the device in its compact form, not as composed adapters, and
// every batch composes its adapters on the device from those rows
// (ComposeBatch), in a few batched operations whatever the number of
// profiles:
//
//   X-PEFT hard    its 2*L mask rows as bits, 2*ceil(N/8)*L bytes (312 B at
//                  BERT-base shape, so a million profiles take ~300 MB);
//                  composed as one GEMM per projection of the batch's
//                  k-hot/k rows [L, P, N] with the bank [L, N, d*b + b]
//   X-PEFT soft    its [2, L, N] weights (serving dtype), same GEMM
//   X-PEFT norm    its mid-LayerNorm [2, L, b], when it has one
//   ProPETL        its bit masks over the prototype (per layer, or the task
//                  mask OR-ed with the shared layer masks), composed by
//                  gather, unpack and multiply
//   ADAPTER        its flat weights [L, 2db + b + d] (megabytes each; the
//                  server's table budget bounds how many stay resident at
//                  once, but a table keeps its peak capacity: tables grow
//                  by doubling and never shrink, so device_bytes() can
//                  exceed the rows in use)
//   heads          one row per label in a shared row table [R, d] (+ bias);
//                  a shared head's rows are stored once for all profiles
//
// Insert() checks the profile (CheckServable, finite values) and writes its
// rows; the returned PooledProfile frees them when its last reference
// drops, so a request that holds one keeps its rows for its whole life.
// Tables grow by doubling; rows are reused after release. On the CPU,
// composed X-PEFT adapters are also cached (Options::composed_cache_bytes).
//
//   ProfilePool pool(backbone, banks);
//   std::shared_ptr<const PooledProfile> p = pool.Insert(data);   // or throws
//   PooledBatch batch = pool.ComposeBatch({p.get(), q.get()}, {0, 1, 1});
//
// Thread safety: Insert, release and ComposeBatch may run concurrently from
// any threads (one mutex guards the tables; composition works on a
// snapshot, which holds every row inserted before it was taken).
#ifndef MASKSERVE_CORE_PEFT_PROFILE_POOL_H_
#define MASKSERVE_CORE_PEFT_PROFILE_POOL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/adapter_sublayer.h"
#include "core/model/bert_model.h"
#include "core/peft/serving_banks.h"
#include "core/profile/profile_data.h"

namespace maskserve {

class ProfilePoolTables;  // profile_pool.cc

// One resident profile: where its rows are. Immutable; releases its rows
// when destroyed.
class PooledProfile {
 public:
  enum class Kind { kHeadOnly, kXpeftHard, kXpeftSoft, kPropetlLayer, kPropetlHybrid, kAdapter };

  ~PooledProfile();
  PooledProfile(const PooledProfile&) = delete;
  PooledProfile& operator=(const PooledProfile&) = delete;

  Method method() const { return method_; }
  Kind kind() const { return kind_; }
  const std::vector<std::string>& labels() const { return labels_; }
  // The adapter bottleneck its sequences run with; 0 for HEAD_ONLY.
  int64_t bottleneck() const { return bottleneck_; }
  bool has_adapter() const { return kind_ != Kind::kHeadOnly; }
  // Device bytes its own rows take (a shared head's are not counted).
  int64_t device_bytes() const { return device_bytes_; }

 private:
  friend class ProfilePool;
  PooledProfile() = default;

  std::shared_ptr<ProfilePoolTables> tables_;
  Method method_ = Method::kUnspecified;
  Kind kind_ = Kind::kHeadOnly;
  std::vector<std::string> labels_;
  int64_t bottleneck_ = 0;
  int64_t device_bytes_ = 0;
  int64_t mask_row_ = -1;  // in the table of its kind
  int64_t norm_row_ = -1;  // X-PEFT mid norm, or -1
  // Its composed adapter in the pool's cache, or -1 (guarded by the pool's
  // mutex; set by ComposeBatch).
  mutable int64_t composed_row_ = -1;
  std::vector<int64_t> head_rows_;
  bool head_shared_ = false;
};

// One forward's inputs composed from the pool: the adapters of the batch's
// distinct profiles with each sequence's index among them, and each
// sequence's head rows.
struct PooledBatch {
  BatchAdapters adapters;           // undefined when no profile has one
  at::Tensor head_rows;             // [B, C_max] int64 rows of the head table (0 = padding)
  std::vector<int64_t> num_labels;  // per sequence
};

class ProfilePool {
 public:
  struct Options {
    int64_t initial_rows = 64;  // per table; each doubles when full
    // X-PEFT adapters composed by a batch are kept (first come, until the
    // profile is released) up to this many bytes and gathered instead of
    // recomposed: on the CPU the composition GEMM is ~1-2% of a forward,
    // on a GPU well under 1%. -1 = by device: 1 GiB on the CPU, 0 on a GPU.
    int64_t composed_cache_bytes = -1;
  };

  // `backbone` must outlive the pool; the banks are shared.
  ProfilePool(const BertModel& backbone, ServingBanks banks, Options options);
  ProfilePool(const BertModel& backbone, ServingBanks banks)
      : ProfilePool(backbone, std::move(banks), Options()) {}
  ~ProfilePool();

  // Checks `profile` (FailedPrecondition: another backbone, bank or
  // bottleneck, a shared head not loaded; DataLoss: non-finite weights)
  // and writes its rows.
  std::shared_ptr<const PooledProfile> Insert(const ProfileData& profile);

  // profiles: the batch's distinct profiles (all of one bottleneck, or
  // HEAD_ONLY); profile_of[i] indexes them for sequence i.
  PooledBatch ComposeBatch(const std::vector<const PooledProfile*>& profiles,
                           const std::vector<int64_t>& profile_of) const;

  // Each row's logits (float) from `pooled` [B, d] and the batch's heads:
  // one gather, one batched matmul and one copy to the host.
  std::vector<std::vector<float>> ApplyHeads(const at::Tensor& pooled,
                                             const PooledBatch& batch) const;

  // Rows in use and device bytes of all tables (allocated capacity).
  int64_t profiles() const;
  int64_t device_bytes() const;

 private:
  // Keeps the composed X-PEFT adapters of `members` (in their order along
  // dim 1 of `down` [L, Px, db + b] and `up` [L, Px, bd + d]) while the
  // cache has room.
  void CacheComposed(const std::vector<int64_t>& members,
                     const std::vector<const PooledProfile*>& profiles, const at::Tensor& down,
                     const at::Tensor& up) const;

  const BertModel& backbone_;
  const ServingBanks banks_;
  std::shared_ptr<ProfilePoolTables> tables_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_PROFILE_POOL_H_
