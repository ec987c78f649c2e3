// File: core/model/cuda_graph_forward.h
//
// CudaGraphForward replays the serving forward (BertModel::Forward with
// BatchAdapters, up to the pooled sentence vectors) as CUDA graphs, one per
// (batch, length) bucket, adapter bottleneck and mode (none, adapters,
// adapters with the mid norm), all sharing one memory pool. A
// batch is padded up to its bucket: extra sequences are fully masked and use
// no adapter, extra positions are masked, so each real row's result is what
// the eager forward gives. A bucket's graph is captured the first time a
// batch needs it (after two warm-up runs on a side stream); its static
// buffers hold up to `batch` composed adapters, so any mix of profiles fits.
//
//   CudaGraphForward graphs(model, CudaGraphForward::Options());
//   at::Tensor pooled = graphs.Pooled(ids, mask, types, adapters);  // [B, d]
//   if (!pooled.defined()) pooled = model.Forward(...).pooled;     // no bucket fits
//
// Pooled() returns an undefined tensor when the batch fits no bucket, the
// model is not on a CUDA device, or this build's LibTorch has no CUDA
// (Available() is false); callers then run the eager forward.
//
// Thread safety: Pooled() serialises callers (one mutex); the returned
// tensor is a copy, valid after the next call.
#ifndef MASKSERVE_CORE_MODEL_CUDA_GRAPH_FORWARD_H_
#define MASKSERVE_CORE_MODEL_CUDA_GRAPH_FORWARD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/adapter_sublayer.h"
#include "core/model/bert_model.h"

namespace maskserve {

class CudaGraphForward {
 public:
  struct Options {
    // Batch sizes and sequence lengths graphs are captured for; a batch
    // runs in the smallest bucket that holds it.
    std::vector<int64_t> batch_buckets = {1, 8, 16, 32, 64, 128, 256};
    std::vector<int64_t> length_buckets = {16, 32, 64, 128, 256, 512};
  };

  // True when this build's LibTorch has CUDA (graphs can be captured).
  static bool Available();

  // `model` must outlive this object.
  CudaGraphForward(const BertModel& model, Options options);
  ~CudaGraphForward();
  CudaGraphForward(const CudaGraphForward&) = delete;
  CudaGraphForward& operator=(const CudaGraphForward&) = delete;

  // ids/mask/types int64 [B, T] (any device); `adapters` as ComposeBatch
  // returns them (undefined: the stock forward). Returns pooled [B, d] on
  // the device, or undefined (see above).
  at::Tensor Pooled(const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types,
                    const BatchAdapters& adapters);

  // Graphs captured so far.
  int64_t captured() const;

 private:
  struct Bucket;
  std::unique_ptr<Bucket> NewBucket(int64_t batch, int64_t length, int64_t bottleneck,
                                    int mode) const;
  // False when the batch does not fit the bucket.
  bool Fill(Bucket* bucket, const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types,
            const BatchAdapters& adapters) const;
  void Capture(Bucket* bucket, int mode) const;
  using Key = std::tuple<int64_t, int64_t, int64_t, int>;  // batch, length, b, mode

  const BertModel& model_;
  const Options options_;
  mutable std::mutex mu_;
  std::map<Key, std::unique_ptr<Bucket>> buckets_;
  std::shared_ptr<void> pool_;  // the graphs' shared memory pool id
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_CUDA_GRAPH_FORWARD_H_
