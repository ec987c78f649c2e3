#include "server/engine/model_info.h"

namespace maskserve {

const char* ServerVersion() { return MASKSERVE_VERSION; }

v1::ModelInfo BuildModelInfo(const Backbone& loaded, const ServingBanks& banks,
                             const LimitsOptions& limits) {
  const BertModel& model = *loaded.model;
  const BertConfig& backbone = model.config();
  const DeviceSpec& device = model.device();
  v1::ModelInfo info;
  v1::BackboneInfo* b = info.mutable_backbone();
  b->set_name(backbone.name);
  b->set_num_layers(static_cast<uint32_t>(backbone.num_hidden_layers));
  b->set_hidden_size(static_cast<uint32_t>(backbone.hidden_size));
  b->set_num_attention_heads(static_cast<uint32_t>(backbone.num_attention_heads));
  b->set_intermediate_size(static_cast<uint32_t>(backbone.intermediate_size));
  b->set_vocab_size(static_cast<uint32_t>(backbone.vocab_size));
  b->set_max_position_embeddings(static_cast<uint32_t>(backbone.max_position_embeddings));
  b->set_device(DeviceName(device.device));
  b->set_dtype(DtypeName(device.dtype));
  b->set_lowercase(backbone.lowercase);
  b->set_fingerprint(model.fingerprint());
  b->set_source(loaded.source);
  b->set_origin(loaded.origin);
  b->set_pooling(PoolingName(backbone.pooling));

  if (banks.adapters) {
    const AdapterBankConfig& c = banks.adapters->config();
    v1::BankInfo* bank = info.add_banks();
    bank->set_kind(v1::ADAPTER_BANK);
    bank->set_num_adapters(uint32_t(c.num_adapters));
    bank->set_bottleneck(uint32_t(c.bottleneck));
    bank->set_top_k(uint32_t(c.top_k));
    bank->set_fingerprint(banks.adapters->fingerprint());
    bank->set_warm(banks.adapters->warm());
    bank->add_methods(v1::XPEFT_HARD);
    bank->add_methods(v1::XPEFT_SOFT);
  }
  if (banks.prototype) {
    v1::BankInfo* bank = info.add_banks();
    bank->set_kind(v1::PROTOTYPE);
    bank->set_bottleneck(uint32_t(banks.prototype->config().bottleneck));
    bank->set_fingerprint(banks.prototype->fingerprint());
    bank->set_warm(banks.prototype->warm());
    bank->add_methods(v1::PROPETL_LAYER);
    bank->add_methods(v1::PROPETL_HYBRID);
  }
  if (banks.heads) {
    for (const SharedHead& head : banks.heads->heads()) {
      v1::SharedHeadInfo* h = info.add_shared_heads();
      h->set_name(head.name);
      for (const std::string& label : head.labels) h->add_label_names(label);
      h->set_fingerprint(head.fingerprint);
    }
  }
  v1::Limits* l = info.mutable_limits();
  l->set_max_inputs_per_request(limits.max_inputs_per_request);
  l->set_max_text_bytes(limits.max_text_bytes);
  l->set_max_examples_per_job(limits.max_examples_per_job);
  l->set_max_labels(limits.max_labels);
  l->set_max_sequence_length(limits.max_sequence_length);
  l->set_max_profiles_per_tenant(limits.max_profiles_per_tenant);

  info.set_server_version(ServerVersion());
  return info;
}

}  // namespace maskserve
