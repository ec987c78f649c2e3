#include "core/model/cuda_graph_forward.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <algorithm>
#include <utility>

#if defined(MASKSERVE_WITH_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace maskserve {

#if defined(MASKSERVE_WITH_CUDA)

namespace {

// The smallest bucket >= n, or -1.
int64_t BucketFor(const std::vector<int64_t>& buckets, int64_t n) {
  int64_t best = -1;
  for (int64_t b : buckets) {
    if (b >= n && (best < 0 || b < best)) best = b;
  }
  return best;
}

}  // namespace

// One captured graph and the static tensors it reads and writes.
struct CudaGraphForward::Bucket {
  at::Tensor ids, mask, types;  // [Bb, Tb] int64
  BatchAdapters adapters;       // [L, Bb, ...] buffers, adapter_of [Bb]
  at::Tensor pooled;            // [Bb, d], written by the graph
  at::cuda::CUDAGraph graph;
};

bool CudaGraphForward::Available() { return true; }

CudaGraphForward::CudaGraphForward(const BertModel& model, Options options)
    : model_(model), options_(std::move(options)) {
  if (model_.device().device.is_cuda()) {
    pool_ = std::make_shared<at::cuda::MempoolId_t>(at::cuda::graph_pool_handle());
  }
}

at::Tensor CudaGraphForward::Pooled(const at::Tensor& ids, const at::Tensor& mask,
                                    const at::Tensor& types, const BatchAdapters& adapters) {
  if (!pool_) return at::Tensor();
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t Bb = BucketFor(options_.batch_buckets, B);
  const int64_t Tb = BucketFor(options_.length_buckets, T);
  if (Bb < 0 || Tb < 0 || Tb > model_.config().max_position_embeddings) return at::Tensor();
  const int mode = !adapters.defined() ? 0 : adapters.norm_weight.defined() ? 2 : 1;

  std::lock_guard<std::mutex> lock(mu_);
  const int64_t b = mode > 0 ? adapters.down.size(3) : 0;
  const Key key{Bb, Tb, b, mode};
  auto found = buckets_.find(key);
  std::unique_ptr<Bucket> fresh;
  if (found == buckets_.end()) fresh = NewBucket(Bb, Tb, b, mode);
  Bucket& s = fresh ? *fresh : *found->second;
  if (!Fill(&s, ids, mask, types, adapters)) return at::Tensor();
  if (fresh) {
    Capture(&s, mode);
    buckets_.emplace(key, std::move(fresh));  // only once captured
  }
  s.graph.replay();
  return s.pooled.narrow(0, 0, B).clone();
}

std::unique_ptr<CudaGraphForward::Bucket> CudaGraphForward::NewBucket(int64_t Bb, int64_t Tb,
                                                                      int64_t b, int mode) const {
  auto bucket = std::make_unique<Bucket>();
  const at::Device device = model_.device().device;
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
  bucket->ids = at::zeros({Bb, Tb}, longs);
  bucket->mask = at::zeros({Bb, Tb}, longs);
  bucket->types = at::zeros({Bb, Tb}, longs);
  if (mode > 0) {
    const BertConfig& c = model_.config();
    const int64_t L = c.num_hidden_layers, d = c.hidden_size;
    const auto values = at::TensorOptions().dtype(model_.device().dtype).device(device);
    BatchAdapters& a = bucket->adapters;
    a.down = at::zeros({L, Bb, d, b}, values);
    a.down_bias = at::zeros({L, Bb, b}, values);
    a.up = at::zeros({L, Bb, b, d}, values);
    a.up_bias = at::zeros({L, Bb, d}, values);
    if (mode == 2) {
      a.norm_weight = at::ones({L, Bb, b}, values);
      a.norm_bias = at::zeros({L, Bb, b}, values);
      a.norm_enabled = at::zeros({Bb}, at::TensorOptions().dtype(at::kByte).device(device));
    }
    a.adapter_of = at::full({Bb}, -1, at::TensorOptions().dtype(at::kInt).device(device));
  }
  return bucket;
}

// This batch into the static buffers: real rows first, the rest masked and
// without an adapter. Stream-ordered on the current stream.
bool CudaGraphForward::Fill(Bucket* s, const at::Tensor& ids, const at::Tensor& mask,
                            const at::Tensor& types, const BatchAdapters& adapters) const {
  const int64_t B = ids.size(0), T = ids.size(1);
  s->mask.zero_();
  s->ids.narrow(0, 0, B).narrow(1, 0, T).copy_(ids, /*non_blocking=*/true);
  s->mask.narrow(0, 0, B).narrow(1, 0, T).copy_(mask, /*non_blocking=*/true);
  s->types.narrow(0, 0, B).narrow(1, 0, T).copy_(types, /*non_blocking=*/true);
  if (!adapters.defined()) return true;
  BatchAdapters& a = s->adapters;
  const int64_t P = adapters.down.size(1);
  if (P > a.down.size(1)) return false;  // more distinct adapters than the bucket's rows
  a.down.narrow(1, 0, P).copy_(adapters.down);
  a.down_bias.narrow(1, 0, P).copy_(adapters.down_bias);
  a.up.narrow(1, 0, P).copy_(adapters.up);
  a.up_bias.narrow(1, 0, P).copy_(adapters.up_bias);
  if (a.norm_weight.defined()) {
    a.norm_weight.narrow(1, 0, P).copy_(adapters.norm_weight);
    a.norm_bias.narrow(1, 0, P).copy_(adapters.norm_bias);
    a.norm_enabled.zero_();
    if (adapters.norm_enabled.defined()) {
      a.norm_enabled.narrow(0, 0, P).copy_(adapters.norm_enabled);
    } else {
      a.norm_enabled.narrow(0, 0, P).fill_(1);
    }
  }
  a.adapter_of.fill_(-1);
  a.adapter_of.narrow(0, 0, B).copy_(adapters.adapter_of);
  return true;
}

// Warms up and captures on a side stream, as CUDA graph capture requires;
// thread-local capture mode, so other threads' CUDA work (profile inserts)
// does not invalidate it.
void CudaGraphForward::Capture(Bucket* s, int mode) const {
  const BatchAdapters none;
  const BatchAdapters& use = mode > 0 ? s->adapters : none;
  c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent filled;
  filled.record(current);
  filled.block(side);
  {
    c10::cuda::CUDAStreamGuard guard(side);
    for (int i = 0; i < 2; ++i) model_.Forward(s->ids, s->mask, s->types, use);
    side.synchronize();
    const auto pool = *std::static_pointer_cast<at::cuda::MempoolId_t>(pool_);
#if TORCH_VERSION_MAJOR >= 2
    s->graph.capture_begin(pool, cudaStreamCaptureModeThreadLocal);
#else
    s->graph.capture_begin(pool);
#endif
    s->pooled = model_.Forward(s->ids, s->mask, s->types, use).pooled;
    s->graph.capture_end();
  }
  at::cuda::CUDAEvent captured;
  captured.record(side);
  captured.block(current);
}

#else  // no CUDA in this LibTorch

struct CudaGraphForward::Bucket {};

bool CudaGraphForward::Available() { return false; }

CudaGraphForward::CudaGraphForward(const BertModel& model, Options options)
    : model_(model), options_(std::move(options)) {}

at::Tensor CudaGraphForward::Pooled(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                    const BatchAdapters&) {
  return at::Tensor();
}

#endif

CudaGraphForward::~CudaGraphForward() = default;

int64_t CudaGraphForward::captured() const {
  std::lock_guard<std::mutex> lock(mu_);
  return int64_t(buckets_.size());
}

}  // namespace maskserve
