#include "core/peft/shared_heads.h"

#include <ATen/ATen.h>

#include <map>
#include <set>

#include "core/base/error.h"
#include "core/base/sha256.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_hash.h"
#include "core/profile/profile_data.h"

namespace maskserve {

namespace {

constexpr char kKind[] = "maskserve-shared-heads";

std::string Fingerprint(const SharedHead& head) {
  Sha256 hash;
  auto update = [&](const std::string& s) {
    const uint64_t n = s.size();
    hash.Update(&n, sizeof(n));
    hash.Update(s.data(), s.size());
  };
  update(head.name);
  for (const std::string& label : head.labels) update(label);
  for (const at::Tensor& t : {head.weight, head.bias}) HashTensor(t, &hash);
  return hash.HexDigest();
}

}  // namespace

SharedHeadSet::SharedHeadSet(std::string backbone_fingerprint)
    : backbone_fingerprint_(std::move(backbone_fingerprint)) {}

const SharedHead& SharedHeadSet::Add(const std::string& name,
                                     const std::vector<std::string>& labels,
                                     const at::Tensor& weight, const at::Tensor& bias) {
  ValidateSharedHeadName(name, "shared_head.name");
  if (Find(name) != nullptr) {
    throw InvalidArgument("shared_head.name: '" + name + "' is already in the set");
  }
  if (labels.size() < 2) throw InvalidArgument("shared_head.labels: at least 2 labels");
  std::set<std::string> distinct;
  for (const std::string& label : labels) {
    if (label.empty() || !distinct.insert(label).second) {
      throw InvalidArgument("shared_head.labels: empty or duplicate label '" + label + "'");
    }
  }
  const int64_t C = int64_t(labels.size());
  if (weight.dim() != 2 || weight.size(0) != C || weight.size(1) < 1 || bias.dim() != 1 ||
      bias.size(0) != C) {
    throw InvalidArgument("shared_head '" + name + "': expected weight [C=" + std::to_string(C) +
                          ", d] and bias [C]");
  }
  SharedHead head;
  head.name = name;
  head.labels = labels;
  head.weight = weight.detach().to(at::kCPU, at::kFloat).contiguous().clone();
  head.bias = bias.detach().to(at::kCPU, at::kFloat).contiguous().clone();
  if (!at::isfinite(head.weight).all().item<bool>() ||
      !at::isfinite(head.bias).all().item<bool>()) {
    throw InvalidArgument("shared_head '" + name + "': weights must be finite");
  }
  head.fingerprint = Fingerprint(head);
  heads_.push_back(std::move(head));
  return heads_.back();
}

void SharedHeadSet::Place(const DeviceSpec& device) {
  for (SharedHead& h : heads_) {
    h.weight = h.weight.to(device.device, device.dtype).contiguous();
    h.bias = h.bias.to(device.device, device.dtype).contiguous();
  }
}

const SharedHead* SharedHeadSet::Find(const std::string& name) const {
  for (const SharedHead& h : heads_) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

void SharedHeadSet::Save(const std::string& path) const {
  std::map<std::string, at::Tensor> tensors;
  std::map<std::string, std::string> meta = {{"kind", kKind},
                                             {"backbone_fingerprint", backbone_fingerprint_},
                                             {"num_heads", std::to_string(heads_.size())}};
  for (size_t i = 0; i < heads_.size(); ++i) {
    const SharedHead& h = heads_[i];
    const std::string prefix = "head." + std::to_string(i) + ".";
    meta[prefix + "name"] = h.name;
    meta[prefix + "num_labels"] = std::to_string(h.labels.size());
    for (size_t j = 0; j < h.labels.size(); ++j) {
      meta[prefix + "label." + std::to_string(j)] = h.labels[j];
    }
    tensors[prefix + "weight"] = h.weight.to(at::kCPU, at::kFloat);
    tensors[prefix + "bias"] = h.bias.to(at::kCPU, at::kFloat);
  }
  WriteSafetensors(path, tensors, meta);
}

SharedHeadSet SharedHeadSet::Load(const std::string& path) {
  SafetensorsReader reader = SafetensorsReader::Open(path);
  const auto& meta = reader.metadata();
  auto kind = meta.find("kind");
  if (kind == meta.end() || kind->second != kKind) {
    throw DataLoss(path + ": not a shared-heads file (metadata kind)");
  }
  SharedHeadSet set(reader.RequiredMetadata("backbone_fingerprint"));
  const int64_t count = reader.RequiredMetadataInt("num_heads");
  for (int64_t i = 0; i < count; ++i) {
    const std::string prefix = "head." + std::to_string(i) + ".";
    const int64_t num_labels = reader.RequiredMetadataInt(prefix + "num_labels");
    std::vector<std::string> labels;
    for (int64_t j = 0; j < num_labels; ++j) {
      labels.push_back(reader.RequiredMetadata(prefix + "label." + std::to_string(j)));
    }
    try {
      set.Add(reader.RequiredMetadata(prefix + "name"), labels,
              reader.Load(prefix + "weight").to(at::kFloat),
              reader.Load(prefix + "bias").to(at::kFloat));
    } catch (const EngineError& e) {
      if (e.code() != ErrorCode::kInvalidArgument) throw;
      throw DataLoss(path + ": " + e.what());
    }
  }
  return set;
}

}  // namespace maskserve
