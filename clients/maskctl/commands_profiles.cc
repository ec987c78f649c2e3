// get, list, delete, export and import.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <ostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/maskctl/commands.h"
#include "clients/maskctl/format.h"
#include "core/base/json.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace maskctl {
namespace {

// Most pages `list` follows before it stops.
constexpr int kMaxPages = 100000;

// Writes `data` to `path` through a temporary file and a rename, so a reader
// never sees half a profile. Returns an error message, empty on success.
std::string WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::StrCat("cannot write '", temp, "': ", std::strerror(errno));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return absl::StrCat("cannot write '", temp, "': ", std::strerror(errno));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    std::remove(temp.c_str());
    return absl::StrCat("cannot rename '", temp, "' to '", path, "': ", error);
  }
  return "";
}

}  // namespace

int RunGet(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  client::SetProfileRoutingHeader(ctx.args[0], &context);
  v1::GetProfileRequest request;
  request.set_profile_id(ctx.args[0]);
  v1::Profile profile;
  grpc::Status status = stub->GetProfile(&context, request, &profile);
  if (!status.ok()) return ReportRpcError(ctx, "get", status);
  if (ctx.options.json) {
    PrintJson(ctx, profile);
  } else {
    *ctx.out << ProfileDetails(profile);
  }
  return kExitOk;
}

int RunList(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  v1::ListProfilesRequest request;
  request.set_page_size(ctx.options.list.page_size);
  v1::ListProfilesResponse all;
  for (int page = 0; page < kMaxPages; ++page) {
    grpc::ClientContext context;
    PrepareUnary(ctx, &context);
    v1::ListProfilesResponse response;
    grpc::Status status = stub->ListProfiles(&context, request, &response);
    if (!status.ok()) return ReportRpcError(ctx, "list", status);
    for (v1::Profile& profile : *response.mutable_profiles()) {
      *all.add_profiles() = std::move(profile);
    }
    all.set_total_count(response.total_count());
    if (response.next_page_token().empty() || response.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(response.next_page_token());
  }
  if (ctx.options.json) {
    PrintJson(ctx, all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"PROFILE", "VERSION", "METHOD", "LABELS", "BYTES", "VAL_ACC", "UPDATED"}};
  for (const v1::Profile& p : all.profiles()) {
    rows.push_back({p.profile_id(), absl::StrCat(p.version()), v1::Method_Name(p.method()),
                    absl::StrJoin(p.label_names(), ","), absl::StrCat(p.size().total_bytes()),
                    p.metrics().num_examples() > 0 ? FormatFloat(p.metrics().accuracy()) : "-",
                    FormatTimestamp(p.update_time())});
  }
  *ctx.out << FormatTable(rows) << all.profiles_size()
           << (all.profiles_size() == 1 ? " profile" : " profiles") << "\n";
  return kExitOk;
}

int RunDelete(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  client::SetProfileRoutingHeader(ctx.args[0], &context);
  v1::DeleteProfileRequest request;
  request.set_profile_id(ctx.args[0]);
  if (ctx.options.expected_version) request.set_expected_version(*ctx.options.expected_version);
  v1::DeleteProfileResponse response;
  grpc::Status status = stub->DeleteProfile(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, "delete", status);
  if (ctx.options.json) {
    PrintJson(ctx, response);
  } else {
    *ctx.out << "deleted " << ctx.args[0] << " version " << response.deleted_version() << "\n";
  }
  return kExitOk;
}

int RunExport(const CommandContext& ctx) {
  const std::string& profile_id = ctx.args[0];
  const std::string& path = ctx.args[1];
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  client::SetProfileRoutingHeader(profile_id, &context);
  v1::ExportProfileRequest request;
  request.set_profile_id(profile_id);
  v1::ExportProfileResponse response;
  grpc::Status status = stub->ExportProfile(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, "export", status);
  if (path == "-") {
    ctx.out->write(response.data().data(), static_cast<std::streamsize>(response.data().size()));
    ctx.out->flush();
    return *ctx.out ? kExitOk : kExitOutputError;
  }
  const std::string error = WriteFileAtomically(path, response.data());
  if (!error.empty()) {
    *ctx.err << "maskctl: export: " << error << "\n";
    return kExitOutputError;
  }
  if (ctx.options.json) {
    *ctx.out << "{\"profile_id\":" << JsonQuote(profile_id) << ",\"version\":" << response.version()
             << ",\"bytes\":" << response.data().size() << ",\"file\":" << JsonQuote(path) << "}\n";
  } else {
    *ctx.out << "exported " << profile_id << " version " << response.version() << " ("
             << response.data().size() << " bytes) to " << path << "\n";
  }
  return kExitOk;
}

int RunImport(const CommandContext& ctx) {
  const std::string& profile_id = ctx.args[0];
  const std::string& path = ctx.args[1];
  std::string data;
  if (path == "-") {
    data.assign(std::istreambuf_iterator<char>(*ctx.in), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return ReportUsageError(
          ctx, absl::StrCat("import: cannot read '", path, "': ", std::strerror(errno)));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    data = buffer.str();
  }
  if (data.empty()) return ReportUsageError(ctx, absl::StrCat("import: '", path, "' is empty"));
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  client::SetProfileRoutingHeader(profile_id, &context);
  v1::ImportProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_data(std::move(data));
  request.set_overwrite(ctx.options.overwrite);
  v1::Profile profile;
  grpc::Status status = stub->ImportProfile(&context, request, &profile);
  if (!status.ok()) return ReportRpcError(ctx, "import", status);
  if (ctx.options.json) {
    PrintJson(ctx, profile);
  } else {
    *ctx.out << "imported " << profile.profile_id() << " version " << profile.version() << " ("
             << v1::Method_Name(profile.method()) << ", labels "
             << absl::StrJoin(profile.label_names(), ",") << ")\n";
  }
  return kExitOk;
}

}  // namespace maskctl
}  // namespace maskserve
