// backup: the maskserve.v1.Admin service.
#include <ostream>

#include "clients/maskctl/commands.h"
#include "maskserve/v1/admin.grpc.pb.h"

namespace maskserve {
namespace maskctl {

int RunBackup(const CommandContext& ctx) {
  auto stub = v1::Admin::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  v1::CreateBackupRequest request;
  request.set_dir(ctx.args[0]);
  v1::CreateBackupResponse response;
  grpc::Status status = stub->CreateBackup(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, "backup", status);
  if (ctx.options.json) {
    PrintJson(ctx, response);
    return kExitOk;
  }
  *ctx.out << "backup " << response.dir() << ": " << response.profiles() << " profiles, "
           << response.files() << " files, " << response.bytes() << " bytes in "
           << response.seconds() << " s\n"
           << "restore: maskserve --restore_from=" << response.dir()
           << " --data_dir=EMPTY_DIR (on the server's host)\n";
  return kExitOk;
}

}  // namespace maskctl
}  // namespace maskserve
