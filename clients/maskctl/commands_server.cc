// health and info.
#include <ostream>

#include "absl/strings/str_join.h"
#include "clients/maskctl/commands.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace maskctl {

int RunHealth(const CommandContext& ctx) {
  auto stub = grpc::health::v1::Health::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(ctx.args.empty() ? "" : ctx.args[0]);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, "health", status);
  if (ctx.options.json) {
    PrintJson(ctx, response);
  } else {
    *ctx.out << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
             << "\n";
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                             : kExitNotServing;
}

int RunInfo(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  v1::ModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return ReportRpcError(ctx, "info", status);
  if (ctx.options.json) {
    PrintJson(ctx, info);
    return kExitOk;
  }
  std::ostream& out = *ctx.out;
  const v1::BackboneInfo& b = info.backbone();
  out << "server      maskserve " << info.server_version() << "\n"
      << "backbone    " << b.name() << ": L=" << b.num_layers() << " d=" << b.hidden_size()
      << " heads=" << b.num_attention_heads() << " ffn=" << b.intermediate_size()
      << " vocab=" << b.vocab_size() << " pooling=" << b.pooling() << " (" << b.device() << ", "
      << b.dtype() << ")\n";
  if (!b.source().empty()) out << "            from " << b.source() << "\n";
  if (!b.origin().empty()) out << "            origin " << b.origin() << "\n";
  if (!b.fingerprint().empty()) out << "            fingerprint " << b.fingerprint() << "\n";
  for (const v1::BankInfo& bank : info.banks()) {
    out << "bank        " << v1::BankKind_Name(bank.kind()) << ": N=" << bank.num_adapters()
        << " b=" << bank.bottleneck() << " k=" << bank.top_k()
        << (bank.warm() ? " warm" : " random") << " fingerprint " << bank.fingerprint() << "\n";
    if (bank.methods_size() > 0) {
      out << "            methods";
      for (int m : bank.methods()) out << " " << v1::Method_Name(static_cast<v1::Method>(m));
      out << "\n";
    }
  }
  if (info.banks().empty()) out << "bank        (none loaded)\n";
  for (const v1::SharedHeadInfo& head : info.shared_heads()) {
    out << "shared_head " << head.name() << ": labels " << absl::StrJoin(head.label_names(), ",")
        << " fingerprint " << head.fingerprint() << "\n";
  }
  const v1::Limits& l = info.limits();
  out << "limits      inputs/request=" << l.max_inputs_per_request()
      << " text_bytes=" << l.max_text_bytes() << " examples/job=" << l.max_examples_per_job()
      << " labels=" << l.max_labels() << " seq_len=" << l.max_sequence_length()
      << " profiles/tenant=" << l.max_profiles_per_tenant() << "\n";
  return kExitOk;
}

}  // namespace maskctl
}  // namespace maskserve
