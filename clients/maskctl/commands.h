// File: clients/maskctl/commands.h
//
// maskctl's commands and the table that dispatches to them. Each command
// takes a CommandContext (clients/maskctl/cli.h), talks to the server and
// returns an exit code; none of them reads flags or touches global state, so
// tests can run them in-process against a fake server.
//
// Thread safety: each call uses only its CommandContext.
#ifndef MASKSERVE_CLIENTS_MASKCTL_COMMANDS_H_
#define MASKSERVE_CLIENTS_MASKCTL_COMMANDS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "clients/maskctl/cli.h"

namespace maskserve {
namespace maskctl {

// One entry of the command table.
struct Command {
  const char* name;
  // Arguments after the name, e.g. "PROFILE FILE".
  const char* synopsis;
  const char* summary;
  size_t min_args;
  size_t max_args;  // kUnlimitedArgs for any number
  int (*run)(const CommandContext& ctx);
};

constexpr size_t kUnlimitedArgs = static_cast<size_t>(-1);

// Every command, in the order of the usage text.
const std::vector<Command>& Commands();

// The usage text: synopsis, commands, exit codes.
std::string UsageText();

// Runs command `name` with `ctx` after checking the argument count; an
// unknown command or a wrong count prints the usage and returns kExitUsage.
int RunCommand(const std::string& name, const CommandContext& ctx);

// Server commands (commands_server.cc).
int RunHealth(const CommandContext& ctx);
int RunInfo(const CommandContext& ctx);

// Training commands (commands_training.cc).
int RunTrain(const CommandContext& ctx);
int RunWatch(const CommandContext& ctx);
int RunJobs(const CommandContext& ctx);
int RunCancel(const CommandContext& ctx);

// Prediction (commands_predict.cc).
int RunPredict(const CommandContext& ctx);

// Admin commands (commands_admin.cc); they need an admin key.
int RunBackup(const CommandContext& ctx);

// Profile commands (commands_profiles.cc).
int RunGet(const CommandContext& ctx);
int RunList(const CommandContext& ctx);
int RunDelete(const CommandContext& ctx);
int RunExport(const CommandContext& ctx);
int RunImport(const CommandContext& ctx);

// Follows job `job_id` with WatchTrainingJob (reconnecting on UNAVAILABLE),
// printing a progress line per change; returns kExitOk when it SUCCEEDED and
// kExitRpcError when it FAILED, was CANCELLED or could not be watched.
int WatchJob(const CommandContext& ctx, const std::string& job_id);

}  // namespace maskctl
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_MASKCTL_COMMANDS_H_
