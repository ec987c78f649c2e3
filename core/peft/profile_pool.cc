#include "core/peft/profile_pool.h"

#include <ATen/ATen.h>

#include <utility>

#include "core/base/error.h"
#include "core/peft/profile_tensors.h"
#include "core/peft/servable_check.h"

namespace maskserve {

namespace {

// A growable device table of fixed-shape rows with a free list; rows
// [0, reserved) are never handed out. Not thread-safe (the pool's mutex
// guards it).
class RowTable {
 public:
  RowTable(std::vector<int64_t> row_shape, at::TensorOptions options, int64_t initial_rows,
           int64_t reserved = 0)
      : row_shape_(std::move(row_shape)),
        options_(options),
        initial_rows_(std::max<int64_t>(initial_rows, reserved + 1)),
        next_(reserved) {}

  int64_t Allocate() {
    if (!free_.empty()) {
      const int64_t row = free_.back();
      free_.pop_back();
      return row;
    }
    const int64_t capacity = rows_.defined() ? rows_.size(0) : 0;
    if (next_ >= capacity) Grow(capacity == 0 ? initial_rows_ : 2 * capacity);
    return next_++;
  }
  void Write(int64_t row, const at::Tensor& values) {
    at::Tensor target = rows_[row];
    target.copy_(values.reshape(target.sizes()));
  }
  void Free(int64_t row) {
    if (row >= 0) free_.push_back(row);
  }
  const at::Tensor& rows() const { return rows_; }
  int64_t row_bytes() const {
    int64_t n = int64_t(at::elementSize(at::typeMetaToScalarType(options_.dtype())));
    for (int64_t s : row_shape_) n *= s;
    return n;
  }
  int64_t capacity_bytes() const {
    return rows_.defined() ? rows_.numel() * rows_.element_size() : 0;
  }

 private:
  void Grow(int64_t capacity) {
    std::vector<int64_t> shape = {capacity};
    shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
    at::Tensor grown = at::zeros(shape, options_);
    if (rows_.defined()) grown.narrow(0, 0, rows_.size(0)).copy_(rows_);
    rows_ = grown;  // a snapshot taken before keeps the old table
  }

  const std::vector<int64_t> row_shape_;
  const at::TensorOptions options_;
  const int64_t initial_rows_;
  int64_t next_;
  std::vector<int64_t> free_;
  at::Tensor rows_;
};

// Packed bits [..., bytes] (least significant bit first) -> 0/1 [..., bits]
// in `dtype`, on the bytes' device.
// `weights` holds {1, 2, 4, ..., 128} on the bytes' device.
at::Tensor UnpackBits(const at::Tensor& bytes, int64_t bits, at::ScalarType dtype,
                      const at::Tensor& weights) {
  std::vector<int64_t> shape(bytes.sizes().begin(), bytes.sizes().end());
  shape.back() *= 8;
  return at::bitwise_and(bytes.unsqueeze(-1), weights)
      .ne(0)
      .view(shape)
      .narrow(-1, 0, bits)
      .to(dtype);
}

at::Tensor BitsTensor(const std::vector<uint8_t>& bits) {
  return at::from_blob(const_cast<uint8_t*>(bits.data()), {int64_t(bits.size())},
                       at::TensorOptions().dtype(at::kByte))
      .clone();
}

}  // namespace

// Everything the profiles' rows live in; shared with every PooledProfile so
// that a profile may outlive nothing but its own rows.
class ProfilePoolTables {
 public:
  ProfilePoolTables(const BertConfig& config, const ServingBanks& banks, const DeviceSpec& device,
                    int64_t initial_rows, int64_t composed_cache_bytes)
      : L(config.num_hidden_layers), d(config.hidden_size) {
    const auto bytes = at::TensorOptions().dtype(at::kByte).device(device.device);
    const auto values = at::TensorOptions().dtype(device.dtype).device(device.device);
    if (banks.adapters) {
      const AdapterBankConfig& c = banks.adapters->config();
      N = c.num_adapters;
      xpeft_b = c.bottleneck;
      xpeft_hard = std::make_unique<RowTable>(std::vector<int64_t>{2, L, int64_t(PackedBytes(N))},
                                              bytes, initial_rows);
      xpeft_soft = std::make_unique<RowTable>(std::vector<int64_t>{2, L, N}, values, initial_rows);
      xpeft_norm =
          std::make_unique<RowTable>(std::vector<int64_t>{2, L, xpeft_b}, values, initial_rows);
    }
    if (banks.prototype) {
      propetl_b = banks.prototype->config().bottleneck;
      const int64_t packed = PackedBytes(d * propetl_b);
      propetl_layer =
          std::make_unique<RowTable>(std::vector<int64_t>{L, 2, packed}, bytes, initial_rows);
      propetl_task =
          std::make_unique<RowTable>(std::vector<int64_t>{2, packed}, bytes, initial_rows);
    }
    adapter_b = banks.AdapterBottleneck(d);
    if (banks.adapters) {  // composed X-PEFT adapters, laid out as ADAPTER weights
      const int64_t b = xpeft_b;
      composed = std::make_unique<RowTable>(std::vector<int64_t>{L, 2 * d * b + b + d}, values,
                                            initial_rows);
      composed_capacity = composed_cache_bytes / std::max<int64_t>(1, composed->row_bytes());
    }
    adapter = std::make_unique<RowTable>(std::vector<int64_t>{L, 2 * d * adapter_b + adapter_b + d},
                                         values, initial_rows);
    // A head row is a label's weights [d] and its bias; row 0 stays zero
    // (padding of profiles with fewer labels than the batch's most).
    heads = std::make_unique<RowTable>(std::vector<int64_t>{d + 1}, values, initial_rows, 1);
    bit_weights = at::tensor({1, 2, 4, 8, 16, 32, 64, 128}, at::TensorOptions().dtype(at::kByte))
                      .to(device.device);
  }

  static size_t PackedBytes(int64_t bits) { return size_t((bits + 7) / 8); }

  RowTable* MaskTable(PooledProfile::Kind kind) {
    switch (kind) {
      case PooledProfile::Kind::kXpeftHard:
        return xpeft_hard.get();
      case PooledProfile::Kind::kXpeftSoft:
        return xpeft_soft.get();
      case PooledProfile::Kind::kPropetlLayer:
        return propetl_layer.get();
      case PooledProfile::Kind::kPropetlHybrid:
        return propetl_task.get();
      case PooledProfile::Kind::kAdapter:
        return adapter.get();
      case PooledProfile::Kind::kHeadOnly:
        break;
    }
    return nullptr;
  }

  int64_t CapacityBytes() const {
    int64_t n = 0;
    for (const RowTable* t :
         {xpeft_hard.get(), xpeft_soft.get(), xpeft_norm.get(), propetl_layer.get(),
          propetl_task.get(), adapter.get(), heads.get(), composed.get()}) {
      if (t != nullptr) n += t->capacity_bytes();
    }
    return n;
  }

  const int64_t L, d;
  int64_t N = 0, xpeft_b = 0, propetl_b = 0, adapter_b = 0;
  std::mutex mu;
  std::unique_ptr<RowTable> xpeft_hard, xpeft_soft, xpeft_norm, propetl_layer, propetl_task,
      adapter, heads, composed;
  int64_t composed_capacity = 0, composed_in_use = 0;  // rows
  at::Tensor bit_weights;  // UnpackBits' {1, 2, ..., 128}, on the device
  std::map<std::string, std::vector<int64_t>> shared_head_rows;
  int64_t profiles = 0;
};

PooledProfile::~PooledProfile() {
  if (!tables_) return;
  std::lock_guard<std::mutex> lock(tables_->mu);
  if (RowTable* table = tables_->MaskTable(kind_)) table->Free(mask_row_);
  if (norm_row_ >= 0) tables_->xpeft_norm->Free(norm_row_);
  if (composed_row_ >= 0) {
    tables_->composed->Free(composed_row_);
    --tables_->composed_in_use;
  }
  if (!head_shared_) {
    for (int64_t row : head_rows_) tables_->heads->Free(row);
  }
  --tables_->profiles;
}

ProfilePool::ProfilePool(const BertModel& backbone, ServingBanks banks, Options options)
    : backbone_(backbone),
      banks_(std::move(banks)),
      tables_(std::make_shared<ProfilePoolTables>(
          backbone.config(), banks_, backbone.device(), options.initial_rows,
          options.composed_cache_bytes >= 0    ? options.composed_cache_bytes
          : backbone.device().device.is_cuda() ? 0
                                               : int64_t{1} << 30)) {}

ProfilePool::~ProfilePool() = default;

int64_t ProfilePool::profiles() const {
  std::lock_guard<std::mutex> lock(tables_->mu);
  return tables_->profiles;
}

int64_t ProfilePool::device_bytes() const {
  std::lock_guard<std::mutex> lock(tables_->mu);
  return tables_->CapacityBytes();
}

std::shared_ptr<const PooledProfile> ProfilePool::Insert(const ProfileData& p) {
  const ServableParts parts = CheckServable(p, backbone_, banks_);
  ProfilePoolTables& t = *tables_;
  const int64_t L = t.L, d = t.d, C = int64_t(p.labels.size());
  using Kind = PooledProfile::Kind;

  // The rows to write, as CPU tensors, checked before anything is taken.
  Kind kind = Kind::kHeadOnly;
  at::Tensor mask_values, norm_values, head_values;
  switch (p.method) {
    case Method::kXpeftHard:
      kind = Kind::kXpeftHard;
      mask_values = BitsTensor(p.mask_bits);
      break;
    case Method::kXpeftSoft:
      kind = Kind::kXpeftSoft;
      mask_values = HalvesToTensor(p.mask_weights, {2, L, t.N});
      RequireFiniteValues(mask_values, "adapter");
      // Softmax weights: anything else could overflow the composition.
      if (mask_values.numel() > 0 &&
          (mask_values.min().item<float>() < 0 || mask_values.max().item<float>() > 1)) {
        throw DataLoss("profile has X-PEFT soft mask weights outside [0, 1]");
      }
      break;
    case Method::kPropetlLayer:
      kind = Kind::kPropetlLayer;
      mask_values = BitsTensor(p.mask_bits);
      break;
    case Method::kPropetlHybrid:
      kind = Kind::kPropetlHybrid;
      mask_values = BitsTensor(p.mask_bits);
      break;
    case Method::kAdapter:
      kind = Kind::kAdapter;
      mask_values = HalvesToTensor(p.adapter_params, {L, 2 * d * t.adapter_b + t.adapter_b + d});
      RequireFiniteValues(mask_values, "adapter");
      break;
    default:
      break;
  }
  if (IsXpeft(p.method) && !p.norm_params.empty()) {
    norm_values = HalvesToTensor(p.norm_params, {2, L, t.xpeft_b});
    RequireFiniteValues(norm_values, "adapter");
  }
  if (parts.shared_head == nullptr) {
    head_values = at::cat({HeadWeightTensor(p), HalvesToTensor(p.head_bias, {C}).unsqueeze(1)}, 1);
    RequireFiniteValues(head_values, "head");
  }

  // On the device before the lock: the writes under it are then device
  // copies that do not wait for the stream.
  const DeviceSpec& device = backbone_.device();
  auto on_device = [&](at::Tensor& v, bool values) {
    if (v.defined()) v = values ? v.to(device.device, device.dtype) : v.to(device.device);
  };
  on_device(mask_values, kind != Kind::kXpeftHard && kind != Kind::kPropetlLayer &&
                             kind != Kind::kPropetlHybrid);
  on_device(norm_values, true);
  on_device(head_values, true);
  at::Tensor shared_values;
  if (parts.shared_head != nullptr) {
    shared_values = at::cat({parts.shared_head->weight.to(at::kCPU, at::kFloat),
                             parts.shared_head->bias.to(at::kCPU, at::kFloat).unsqueeze(1)},
                            1);
    on_device(shared_values, true);
  }

  auto out = std::shared_ptr<PooledProfile>(new PooledProfile());
  out->method_ = p.method;
  out->kind_ = kind;
  out->labels_ = p.labels;
  out->bottleneck_ = parts.bottleneck;
  std::lock_guard<std::mutex> lock(t.mu);
  out->tables_ = tables_;
  ++t.profiles;  // the destructor undoes it, whatever was taken so far
  if (RowTable* table = t.MaskTable(kind)) {
    out->mask_row_ = table->Allocate();
    table->Write(out->mask_row_, mask_values);
    out->device_bytes_ += table->row_bytes();
  }
  if (norm_values.defined()) {
    out->norm_row_ = t.xpeft_norm->Allocate();
    t.xpeft_norm->Write(out->norm_row_, norm_values);
    out->device_bytes_ += t.xpeft_norm->row_bytes();
  }
  if (parts.shared_head != nullptr) {
    out->head_shared_ = true;
    auto it = t.shared_head_rows.find(parts.shared_head->name);
    if (it == t.shared_head_rows.end()) {
      // Stored only once every row is written, so a failure leaves no
      // partial head behind.
      std::vector<int64_t> rows;
      try {
        for (int64_t c = 0; c < C; ++c) {
          rows.push_back(t.heads->Allocate());
          t.heads->Write(rows.back(), shared_values[c]);
        }
      } catch (...) {
        for (int64_t row : rows) t.heads->Free(row);
        throw;
      }
      it = t.shared_head_rows.emplace(parts.shared_head->name, std::move(rows)).first;
    }
    out->head_rows_ = it->second;
  } else {
    for (int64_t c = 0; c < C; ++c) {
      out->head_rows_.push_back(t.heads->Allocate());
      t.heads->Write(out->head_rows_.back(), head_values[c]);
      out->device_bytes_ += t.heads->row_bytes();
    }
  }
  return out;
}

PooledBatch ProfilePool::ComposeBatch(const std::vector<const PooledProfile*>& profiles,
                                      const std::vector<int64_t>& profile_of) const {
  using Kind = PooledProfile::Kind;
  const ProfilePoolTables& t = *tables_;
  const int64_t P = int64_t(profiles.size()), B = int64_t(profile_of.size());
  const int64_t L = t.L, d = t.d;
  for (int64_t j : profile_of) {
    if (j < 0 || j >= P) throw InvalidArgument("profile_of: index out of range");
  }
  for (const PooledProfile* p : profiles) {
    if (p->tables_ != tables_) throw InvalidArgument("profiles: a profile of another pool");
  }

  // The composed adapters are ordered by group (a cached composed X-PEFT
  // adapter, then each kind); each profile's index among them, or -1.
  enum Group { kCached, kHard, kSoft, kLayer, kHybrid, kAdapter, kNone };
  std::vector<Group> group_of(size_t(P), kNone);
  at::Tensor cached_table, hard, soft, norm, layer_bits, task_bits, flat;
  {
    std::lock_guard<std::mutex> lock(tables_->mu);
    for (int64_t j = 0; j < P; ++j) {
      const PooledProfile* p = profiles[size_t(j)];
      switch (p->kind()) {
        case Kind::kXpeftHard:
          group_of[size_t(j)] = p->composed_row_ >= 0 ? kCached : kHard;
          break;
        case Kind::kXpeftSoft:
          group_of[size_t(j)] = p->composed_row_ >= 0 ? kCached : kSoft;
          break;
        case Kind::kPropetlLayer:
          group_of[size_t(j)] = kLayer;
          break;
        case Kind::kPropetlHybrid:
          group_of[size_t(j)] = kHybrid;
          break;
        case Kind::kAdapter:
          group_of[size_t(j)] = kAdapter;
          break;
        case Kind::kHeadOnly:
          break;
      }
    }
    // A snapshot of the tables: rows inserted before this point are in it.
    if (t.composed) cached_table = t.composed->rows();
    if (t.xpeft_hard) {
      hard = t.xpeft_hard->rows();
      soft = t.xpeft_soft->rows();
      norm = t.xpeft_norm->rows();
    }
    if (t.propetl_layer) {
      layer_bits = t.propetl_layer->rows();
      task_bits = t.propetl_task->rows();
    }
    flat = t.adapter->rows();
  }
  std::map<Group, std::vector<int64_t>> rows_of;  // table rows per group, in order
  std::vector<int64_t> xpeft_members;             // uncached X-PEFT profiles, in order
  std::vector<int64_t> adapter_index(size_t(P), -1);
  int64_t b = 0, composed = 0;
  for (Group g : {kCached, kHard, kSoft, kLayer, kHybrid, kAdapter}) {
    for (int64_t j = 0; j < P; ++j) {
      if (group_of[size_t(j)] != g) continue;
      const PooledProfile* p = profiles[size_t(j)];
      if (b != 0 && p->bottleneck() != b) {
        throw InvalidArgument("profiles in one batch must share the adapter bottleneck");
      }
      b = p->bottleneck();
      rows_of[g].push_back(g == kCached ? p->composed_row_ : p->mask_row_);
      if (g == kHard || g == kSoft) xpeft_members.push_back(j);
      adapter_index[size_t(j)] = composed++;
    }
  }
  bool any_norm = false;
  for (const PooledProfile* p : profiles) any_norm |= p->norm_row_ >= 0;

  // Every index the device needs, in one host buffer and one copy.
  PooledBatch out;
  int64_t max_labels = 1;
  for (const PooledProfile* p : profiles)
    max_labels = std::max<int64_t>(max_labels, p->head_rows_.size());
  std::vector<int64_t> host;
  std::map<Group, std::pair<int64_t, int64_t>> span_of;  // offset, count
  for (const auto& [kind, rows] : rows_of) {
    span_of[kind] = {int64_t(host.size()), int64_t(rows.size())};
    host.insert(host.end(), rows.begin(), rows.end());
  }
  const int64_t norm_at = int64_t(host.size());
  if (any_norm) {  // per composed adapter: its norm row (0 when none) and whether it has one
    std::vector<int64_t> norm_rows(size_t(composed), 0), enabled(size_t(composed), 0);
    for (int64_t j = 0; j < P; ++j) {
      const PooledProfile* p = profiles[size_t(j)];
      if (p->norm_row_ >= 0) {
        norm_rows[size_t(adapter_index[size_t(j)])] = p->norm_row_;
        enabled[size_t(adapter_index[size_t(j)])] = 1;
      }
    }
    host.insert(host.end(), norm_rows.begin(), norm_rows.end());
    host.insert(host.end(), enabled.begin(), enabled.end());
  }
  const int64_t adapter_of_at = int64_t(host.size());
  bool all_adapted = true;
  for (int64_t j : profile_of) {
    host.push_back(adapter_index[size_t(j)]);
    all_adapted &= adapter_index[size_t(j)] >= 0;
  }
  const int64_t gather_at = int64_t(host.size());
  for (int64_t j : profile_of) host.push_back(std::max<int64_t>(adapter_index[size_t(j)], 0));
  const int64_t heads_at = int64_t(host.size());
  out.num_labels.reserve(size_t(B));
  for (int64_t j : profile_of) {
    const std::vector<int64_t>& rows = profiles[size_t(j)]->head_rows_;
    host.insert(host.end(), rows.begin(), rows.end());
    host.insert(host.end(), size_t(max_labels) - rows.size(), 0);
    out.num_labels.push_back(int64_t(rows.size()));
  }

  const at::Device device = backbone_.device().device;
  at::Tensor staged = at::empty(
      {int64_t(host.size())}, at::TensorOptions().dtype(at::kLong).pinned_memory(device.is_cuda()));
  std::copy(host.begin(), host.end(), staged.data_ptr<int64_t>());
  const at::Tensor indices = staged.to(device, /*non_blocking=*/true);
  auto piece = [&](int64_t at, int64_t n) { return indices.narrow(0, at, n); };
  out.head_rows = piece(heads_at, B * max_labels).view({B, max_labels});
  if (composed == 0) return out;

  auto rows = [&](Group group, const at::Tensor& table) {
    const auto [at, n] = span_of.at(group);
    return table.index_select(0, piece(at, n));
  };
  const at::ScalarType dtype = backbone_.device().dtype;
  std::vector<at::Tensor> down, down_bias, up, up_bias;
  auto add = [&](at::Tensor dn, at::Tensor dn_bias, at::Tensor u, at::Tensor u_bias) {
    down.push_back(std::move(dn));
    down_bias.push_back(std::move(dn_bias));
    up.push_back(std::move(u));
    up_bias.push_back(std::move(u_bias));
  };
  // Adapters stored flat per layer (ADAPTER weights, cached compositions).
  auto add_flat = [&](const at::Tensor& rows_lpf) {  // [L, Pa, 2db + b + d]
    const int64_t Pa = rows_lpf.size(1);
    add(rows_lpf.narrow(2, 0, d * b).view({L, Pa, d, b}), rows_lpf.narrow(2, d * b, b),
        rows_lpf.narrow(2, d * b + b, b * d).view({L, Pa, b, d}),
        rows_lpf.narrow(2, 2 * d * b + b, d));
  };
  if (span_of.count(kCached)) add_flat(rows(kCached, cached_table).transpose(0, 1));
  // X-PEFT: the batch's mask rows [L, Px, N] times the bank, per projection.
  std::vector<at::Tensor> xpeft_weights;  // [Px_kind, 2, L, N]
  if (span_of.count(kHard)) {
    at::Tensor khot = UnpackBits(rows(kHard, hard), t.N, dtype, t.bit_weights);
    xpeft_weights.push_back(khot / khot.sum(-1, /*keepdim=*/true));  // k-hot / k
  }
  if (span_of.count(kSoft)) xpeft_weights.push_back(rows(kSoft, soft));
  if (!xpeft_weights.empty()) {
    const AdapterBank& bank = *banks_.adapters;
    at::Tensor w = (xpeft_weights.size() == 1 ? xpeft_weights[0] : at::cat(xpeft_weights))
                       .to(bank.down_cat().scalar_type());
    const int64_t Px = w.size(0);
    at::Tensor dn = at::bmm(w.select(1, 0).transpose(0, 1), bank.down_cat());  // [L, Px, db + b]
    at::Tensor u = at::bmm(w.select(1, 1).transpose(0, 1), bank.up_cat());     // [L, Px, bd + d]
    add(dn.narrow(2, 0, d * b).view({L, Px, d, b}), dn.narrow(2, d * b, b),
        u.narrow(2, 0, b * d).view({L, Px, b, d}), u.narrow(2, b * d, d));
    if (t.composed_capacity > 0) CacheComposed(xpeft_members, profiles, dn, u);
  }
  // ProPETL: gather the bit masks, unpack, multiply the prototype.
  if (span_of.count(kLayer) || span_of.count(kHybrid)) {
    const PrototypeBank& proto = *banks_.prototype;
    auto compose = [&](const at::Tensor& down_mask, const at::Tensor& up_mask) {  // [L, Pp, d*b]
      const int64_t Pp = down_mask.size(1);
      add(down_mask.view({L, Pp, d, b}) * proto.down(), proto.down_bias().expand({L, Pp, b}),
          up_mask.view({L, Pp, b, d}) * proto.up(), proto.up_bias().expand({L, Pp, d}));
    };
    if (span_of.count(kLayer)) {
      at::Tensor m =
          UnpackBits(rows(kLayer, layer_bits), d * b, dtype, t.bit_weights);  // [Pp,L,2,db]
      m = m.permute({1, 2, 0, 3});                                            // [L,2,Pp,db]
      compose(m.select(1, 0), m.select(1, 1));
    }
    if (span_of.count(kHybrid)) {
      at::Tensor task =
          UnpackBits(rows(kHybrid, task_bits), d * b, dtype, t.bit_weights);  // [Pp,2,db]
      // m_layer OR m_task for 0/1 masks is their maximum.
      at::Tensor dm = at::maximum(proto.layer_down_masks().reshape({L, 1, d * b}).to(dtype),
                                  task.select(1, 0).unsqueeze(0));
      at::Tensor um = at::maximum(proto.layer_up_masks().reshape({L, 1, b * d}).to(dtype),
                                  task.select(1, 1).unsqueeze(0));
      compose(dm, um);
    }
  }
  if (span_of.count(kAdapter)) add_flat(rows(kAdapter, flat).transpose(0, 1));
  auto joined = [](const std::vector<at::Tensor>& parts, int64_t dim) {
    return (parts.size() == 1 ? parts[0] : at::cat(parts, dim)).contiguous();
  };
  BatchAdapters& a = out.adapters;
  a.down = joined(down, 1);
  a.down_bias = joined(down_bias, 1);
  a.up = joined(up, 1);
  a.up_bias = joined(up_bias, 1);
  if (any_norm) {
    at::Tensor n = norm.index_select(0, piece(norm_at, composed));  // [P, 2, L, b]
    a.norm_weight = n.select(1, 0).transpose(0, 1).contiguous();    // [L, P, b]
    a.norm_bias = n.select(1, 1).transpose(0, 1).contiguous();
    a.norm_enabled = piece(norm_at + composed, composed).to(at::kByte);
  }
  a.adapter_of = piece(adapter_of_at, B).to(at::kInt);
  a.gather_index = piece(gather_at, B);
  if (!all_adapted) a.keep = a.adapter_of.ge(0).view({B, 1, 1}).to(a.down.scalar_type());
  return out;
}

void ProfilePool::CacheComposed(const std::vector<int64_t>& members,
                                const std::vector<const PooledProfile*>& profiles,
                                const at::Tensor& down, const at::Tensor& up) const {
  ProfilePoolTables& t = *tables_;
  std::lock_guard<std::mutex> lock(t.mu);
  for (size_t i = 0; i < members.size() && t.composed_in_use < t.composed_capacity; ++i) {
    const PooledProfile* p = profiles[size_t(members[i])];
    if (p->composed_row_ >= 0) continue;  // a concurrent batch cached it
    p->composed_row_ = t.composed->Allocate();
    // Only the rows kept are joined: a full cache costs a batch nothing.
    t.composed->Write(p->composed_row_,
                      at::cat({down.select(1, int64_t(i)), up.select(1, int64_t(i))}, 1));
    ++t.composed_in_use;
  }
}

std::vector<std::vector<float>> ProfilePool::ApplyHeads(const at::Tensor& pooled,
                                                        const PooledBatch& batch) const {
  at::Tensor table;
  {
    std::lock_guard<std::mutex> lock(tables_->mu);
    table = tables_->heads->rows();
  }
  const int64_t B = batch.head_rows.size(0), C = batch.head_rows.size(1), d = tables_->d;
  at::Tensor heads = table.index_select(0, batch.head_rows.reshape({B * C})).view({B, C, d + 1});
  at::Tensor logits = at::baddbmm(heads.select(2, d).unsqueeze(2), heads.narrow(2, 0, d),
                                  pooled.to(table.scalar_type()).unsqueeze(2))
                          .squeeze(2)
                          .to(at::kCPU, at::kFloat)
                          .contiguous();
  std::vector<std::vector<float>> out(static_cast<size_t>(B));
  const float* values = logits.data_ptr<float>();
  for (int64_t i = 0; i < B; ++i) {
    out[size_t(i)].assign(values + i * C, values + i * C + batch.num_labels[size_t(i)]);
  }
  return out;
}

}  // namespace maskserve
