#include "server/model_info.h"

namespace maskserve {

const char* ServerVersion() { return MASKSERVE_VERSION; }

v1::ModelInfo BuildModelInfo(const BertModel& model, const LimitsOptions& limits) {
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
