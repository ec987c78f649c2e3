#include "server/engine/model_loading.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/base/error.h"
#include "core/model/adapter.h"
#include "core/model/device.h"
#include "core/peft/adapter_bank.h"
#include "core/peft/prototype_bank.h"
#include "core/peft/shared_heads.h"
#include "server/engine/engine_errors.h"
#include "server/engine/loaded_model.h"
#include "storage/status_macros.h"

namespace maskserve {

namespace {

// The shared heads of `path` placed on the serving device, or null when no
// path is configured. Throws (naming the flag) when the file cannot be read
// or was built for another backbone.
std::shared_ptr<const SharedHeadSet> LoadSharedHeads(const std::string& path,
                                                     const BertModel& model) {
  if (path.empty()) return nullptr;
  std::shared_ptr<SharedHeadSet> heads;
  try {
    heads = std::make_shared<SharedHeadSet>(SharedHeadSet::Load(path));
  } catch (const EngineError& e) {
    throw EngineError(e.code(), std::string("shared_heads: ") + e.what());
  }
  if (heads->backbone_fingerprint() != model.fingerprint()) {
    throw FailedPrecondition(
        absl::StrCat("shared_heads: '", path, "' was built for another backbone (",
                     heads->backbone_fingerprint().substr(0, 16), "...), not the loaded ",
                     model.config().name, " (", model.fingerprint().substr(0, 16),
                     "...); rebuild the heads with maskserve_build_bank for this backbone"));
  }
  for (const SharedHead& head : heads->heads()) {
    if (head.weight.size(1) != model.config().hidden_size) {
      throw InvalidArgument(absl::StrCat("shared_heads: head '", head.name,
                                         "' has d=", head.weight.size(1), ", the backbone's is ",
                                         model.config().hidden_size));
    }
  }
  heads->Place(model.device());
  return heads;
}

ServingBanks LoadBanks(const BankOptions& options, const BertModel& model) {
  const BertConfig& c = model.config();
  const int64_t bottleneck =
      options.bottleneck > 0 ? options.bottleneck : DefaultBottleneck(c.hidden_size);
  ServingBanks banks;
  if (!options.adapter_bank_path.empty()) {
    banks.adapters =
        std::make_shared<AdapterBank>(AdapterBank::Load(options.adapter_bank_path, model.device()));
  } else {
    AdapterBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = bottleneck;
    config.num_adapters = options.num_adapters;
    config.top_k = options.top_k;
    banks.adapters =
        std::make_shared<AdapterBank>(AdapterBank::Random(config, model.device(), options.seed));
  }
  if (!options.prototype_path.empty()) {
    banks.prototype = std::make_shared<PrototypeBank>(
        PrototypeBank::Load(options.prototype_path, model.device()));
  } else {
    PrototypeBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = bottleneck;
    banks.prototype = std::make_shared<PrototypeBank>(
        PrototypeBank::Random(config, model.device(), options.seed + 1));
  }
  const AdapterBankConfig& a = banks.adapters->config();
  const PrototypeBankConfig& p = banks.prototype->config();
  if (a.num_layers != c.num_hidden_layers || a.hidden_size != c.hidden_size ||
      p.num_layers != c.num_hidden_layers || p.hidden_size != c.hidden_size) {
    throw InvalidArgument("adapter_bank/prototype: their L and d must match the backbone's (L=" +
                          std::to_string(c.num_hidden_layers) +
                          ", d=" + std::to_string(c.hidden_size) + ")");
  }
  banks.heads = LoadSharedHeads(options.shared_heads_path, model);
  return banks;
}

}  // namespace

absl::StatusOr<std::string> CheckDevice(const std::string& device, const std::string& dtype) {
  std::string where;
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    const DeviceSpec spec = ResolveDevice(device, dtype);
    where = DeviceName(spec.device) + " (" + DtypeName(spec.dtype) + ")";
    return absl::OkStatus();
  }));
  return where;
}

absl::StatusOr<std::shared_ptr<const LoadedModel>> LoadModel(const ModelRequest& request) {
  auto loaded = std::make_shared<LoadedModel>();
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    const DeviceSpec device = ResolveDevice(request.device, request.dtype);
    loaded->backbone =
        LoadBackbone(request.model_dir, device, ParsePoolingOverride(request.pooling, "pooling"));
    loaded->banks = LoadBanks(request.banks, *loaded->backbone.model);
    loaded->pool = std::make_shared<ProfilePool>(*loaded->backbone.model, loaded->banks);
    if (request.cuda_graphs && device.device.is_cuda() && CudaGraphForward::Available()) {
      loaded->graphs =
          std::make_shared<CudaGraphForward>(*loaded->backbone.model, CudaGraphForward::Options());
    }
    return absl::OkStatus();
  }));
  return std::shared_ptr<const LoadedModel>(std::move(loaded));
}

ModelSummary Summarize(const LoadedModel& loaded) {
  const BertModel& model = *loaded.backbone.model;
  ModelSummary s;
  s.name = model.config().name;
  s.num_layers = model.config().num_hidden_layers;
  s.hidden_size = model.config().hidden_size;
  s.num_parameters = model.num_parameters();
  s.fingerprint = model.fingerprint();
  s.bank_fingerprints = {loaded.banks.adapters->fingerprint(),
                         loaded.banks.prototype->fingerprint()};
  s.num_adapters = loaded.banks.adapters->config().num_adapters;
  s.bottleneck = loaded.banks.adapters->config().bottleneck;
  s.shared_heads = loaded.banks.heads ? int64_t(loaded.banks.heads->heads().size()) : 0;
  s.device = DeviceName(model.device().device);
  return s;
}

int64_t DeviceMemoryBytes(const LoadedModel& loaded) {
  return int64_t(DeviceMemoryAllocatedBytes(loaded.backbone.model->device().device));
}

}  // namespace maskserve
