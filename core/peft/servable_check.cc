#include "core/peft/servable_check.h"

#include <ATen/ATen.h>

#include <string>

#include "core/base/error.h"

namespace maskserve {

namespace {

std::string Short(const std::string& fingerprint) { return fingerprint.substr(0, 12); }

void RequireShape(const ProfileData& p, int64_t layers, int64_t hidden, int64_t bottleneck,
                  const char* what) {
  if (int64_t(p.shape.num_layers) != layers || int64_t(p.shape.hidden_size) != hidden ||
      (bottleneck >= 0 && int64_t(p.shape.bottleneck) != bottleneck)) {
    throw FailedPrecondition(std::string("profile shape (L=") + std::to_string(p.shape.num_layers) +
                             ", d=" + std::to_string(p.shape.hidden_size) + ", b=" +
                             std::to_string(p.shape.bottleneck) + ") does not match the " + what);
  }
}

const SharedHead* CheckSharedHead(const ProfileData& p, const ServingBanks& banks, int64_t d) {
  if (!p.has_shared_head()) return nullptr;
  const SharedHead* head = banks.heads ? banks.heads->Find(p.shared_head) : nullptr;
  if (head == nullptr) {
    throw FailedPrecondition("profile uses shared head '" + p.shared_head +
                             "', which this server has not loaded");
  }
  if (head->fingerprint != p.shared_head_fingerprint) {
    throw FailedPrecondition("profile was trained with shared head '" + p.shared_head + "' " +
                             Short(p.shared_head_fingerprint) + "..., this server has " +
                             Short(head->fingerprint) + "...");
  }
  if (head->labels != p.labels || head->weight.size(1) != d) {
    throw FailedPrecondition("shared head '" + p.shared_head +
                             "' does not match the profile's labels or hidden size");
  }
  return head;
}

}  // namespace

ServableParts CheckServable(const ProfileData& p, const BertModel& backbone,
                            const ServingBanks& banks) {
  if (p.backbone_fingerprint != backbone.fingerprint()) {
    throw FailedPrecondition("profile was trained for backbone " + Short(p.backbone_fingerprint) +
                             "..., this server runs " + Short(backbone.fingerprint()) + "...");
  }
  const BertConfig& config = backbone.config();
  const int64_t d = config.hidden_size;
  RequireShape(p, config.num_hidden_layers, d, -1, "backbone");
  ServableParts parts;
  parts.shared_head = CheckSharedHead(p, banks, d);
  if (IsXpeft(p.method)) {
    const AdapterBank& bank = banks.RequireAdapters(p.method);
    if (p.bank_fingerprint != bank.fingerprint()) {
      throw FailedPrecondition("profile was trained for adapter bank " + Short(p.bank_fingerprint) +
                               "..., this server has " + Short(bank.fingerprint()) + "...");
    }
    RequireShape(p, bank.config().num_layers, bank.config().hidden_size, bank.config().bottleneck,
                 "adapter bank");
    if (int64_t(p.shape.num_adapters) != bank.config().num_adapters) {
      throw FailedPrecondition("profile selects from " + std::to_string(p.shape.num_adapters) +
                               " adapters, the bank has " +
                               std::to_string(bank.config().num_adapters));
    }
    parts.bank = &bank;
    parts.bottleneck = bank.config().bottleneck;
  } else if (IsPropetl(p.method)) {
    const PrototypeBank& proto = banks.RequirePrototype(p.method);
    if (p.bank_fingerprint != proto.fingerprint()) {
      throw FailedPrecondition("profile was trained for prototype " + Short(p.bank_fingerprint) +
                               "..., this server has " + Short(proto.fingerprint()) + "...");
    }
    RequireShape(p, proto.config().num_layers, proto.config().hidden_size,
                 proto.config().bottleneck, "prototype");
    parts.prototype = &proto;
    parts.bottleneck = proto.config().bottleneck;
  } else if (p.method == Method::kAdapter) {
    // Every adapter a batch runs has one bottleneck: this server's.
    const int64_t served = banks.AdapterBottleneck(d);
    if (int64_t(p.shape.bottleneck) != served) {
      throw FailedPrecondition(
          "ADAPTER profile has bottleneck b=" + std::to_string(p.shape.bottleneck) +
          "; this server serves b=" + std::to_string(served) + " (--bottleneck)");
    }
    parts.bottleneck = served;
  }
  return parts;
}

void RequireFiniteValues(const at::Tensor& t, const char* part) {
  if (t.defined() && t.numel() > 0 && !at::isfinite(t).all().item<bool>()) {
    throw DataLoss(std::string("profile has non-finite (NaN or infinite) values in its ") + part);
  }
}

}  // namespace maskserve
