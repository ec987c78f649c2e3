// File: core/peft/shared_heads.h
//
// Classification heads shared by every profile with the same label set
// (X-PEFT's "warm" setting: per-profile training fits only the masks and
// reuses a head trained once, so a profile stores no head at all).
//
// A SharedHeadSet is built by the bank builder (or any trainer) and saved
// as safetensors next to the bank; the server loads it read-only at start.
// Each head has a name (1-64 of [A-Za-z0-9_.-]), label names, fp32 weights
// over the pooled state of one backbone, and a fingerprint (sha256 over
// name, labels and tensors). A profile references a head by name and
// fingerprint; one whose head is missing or changed is refused.
//
//   SharedHeadSet heads(backbone.model->fingerprint());
//   heads.Add("news", labels, weight, bias);
//   heads.Save("heads.safetensors");
//   SharedHeadSet back = SharedHeadSet::Load("heads.safetensors");
//   const SharedHead* h = back.Find("news");
//
// Thread safety: immutable once loaded or built; share freely.
#ifndef MASKSERVE_CORE_PEFT_SHARED_HEADS_H_
#define MASKSERVE_CORE_PEFT_SHARED_HEADS_H_

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/device.h"

namespace maskserve {

struct SharedHead {
  std::string name;
  std::vector<std::string> labels;
  at::Tensor weight;        // [C, d]: float on the CPU until the set is placed
  at::Tensor bias;          // [C]
  std::string fingerprint;  // over the float values as added or loaded
};

class SharedHeadSet {
 public:
  explicit SharedHeadSet(std::string backbone_fingerprint);

  // Reads a file written by Save(). Throws NotFound / DataLoss naming the
  // file and the key or tensor at fault.
  static SharedHeadSet Load(const std::string& path);
  void Save(const std::string& path) const;

  // Throws InvalidArgument (bad name, fewer than 2 or duplicate labels,
  // shapes) or AlreadyExists-like InvalidArgument for a taken name.
  const SharedHead& Add(const std::string& name, const std::vector<std::string>& labels,
                        const at::Tensor& weight, const at::Tensor& bias);

  // Moves every head to the serving device and dtype, so that profiles
  // share these tensors (call once, before sharing the set).
  void Place(const DeviceSpec& device);

  // nullptr when absent.
  const SharedHead* Find(const std::string& name) const;
  const std::vector<SharedHead>& heads() const { return heads_; }
  const std::string& backbone_fingerprint() const { return backbone_fingerprint_; }

 private:
  std::string backbone_fingerprint_;
  std::vector<SharedHead> heads_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_SHARED_HEADS_H_
