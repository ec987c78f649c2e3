#include "clients/maskctl/commands.h"

#include <ostream>

#include "absl/strings/str_cat.h"

namespace maskserve {
namespace maskctl {

const std::vector<Command>& Commands() {
  static const std::vector<Command>* const kCommands = new std::vector<Command>{
      {"health", "[SERVICE]", "check that the server is SERVING (exit 3 when not)", 0, 1,
       RunHealth},
      {"info", "", "show the backbone, banks and limits", 0, 0, RunInfo},
      {"train", "PROFILE FILE",
       "train from CSV/TSV/JSONL examples ('-' = stdin); prints the job id (--wait: follow it)", 2,
       2, RunTrain},
      {"watch", "JOB_ID", "follow a training job (exit 0 SUCCEEDED, 1 FAILED/CANCELLED)", 1, 1,
       RunWatch},
      {"jobs", "[PROFILE]", "list training jobs, newest first (--states to filter)", 0, 1, RunJobs},
      {"cancel", "JOB_ID", "cancel a queued or running job", 1, 1, RunCancel},
      {"predict", "PROFILE [TEXT...]",
       "classify the texts, or those of --input=FILE (lines or JSONL; stdin when no TEXT)", 1,
       kUnlimitedArgs, RunPredict},
      {"get", "PROFILE", "show a profile's metadata", 1, 1, RunGet},
      {"list", "", "list profiles (all pages)", 0, 0, RunList},
      {"delete", "PROFILE", "delete a profile", 1, 1, RunDelete},
      {"export", "PROFILE FILE", "export a profile to FILE ('-' = stdout)", 2, 2, RunExport},
      {"import", "PROFILE FILE", "import a profile from FILE ('-' = stdin); --overwrite", 2, 2,
       RunImport},
      {"backup", "DIR",
       "admin: back up the whole store into DIR on the server (needs an admin key)", 1, 1,
       RunBackup},
  };
  return *kCommands;
}

std::string UsageText() {
  std::string text =
      "maskctl [--address=host:port] [--api_key=KEY] [--json] [flags] COMMAND [ARGS]\n\n"
      "Commands:\n";
  for (const Command& command : Commands()) {
    std::string head = absl::StrCat("  ", command.name, " ", command.synopsis);
    if (head.size() < 28) head.append(28 - head.size(), ' ');
    absl::StrAppend(&text, head, " ", command.summary, "\n");
  }
  absl::StrAppend(&text,
                  "\npredict: --input=FILE ('-' = stdin), --input_format=auto|text|jsonl,\n"
                  "         --output_format=table|csv|jsonl, --output=FILE.\n"
                  "watch, train --wait: --progress=auto|bar|plain|none (auto: a bar on a "
                  "terminal).\n"
                  "Environment: MASKSERVE_ADDRESS, MASKSERVE_API_KEY (overridden by the flags).\n"
                  "Exit codes: 0 ok; 1 RPC failed or job FAILED/CANCELLED; 2 usage or bad "
                  "input;\n            3 not serving; 4 output file not written.\n"
                  "Run 'maskctl --helpfull' for every flag.");
  return text;
}

int RunCommand(const std::string& name, const CommandContext& ctx) {
  for (const Command& command : Commands()) {
    if (name != command.name) continue;
    const size_t n = ctx.args.size();
    if (n < command.min_args || (command.max_args != kUnlimitedArgs && n > command.max_args)) {
      *ctx.err << "maskctl: usage: maskctl " << command.name << " " << command.synopsis << "\n";
      return kExitUsage;
    }
    return command.run(ctx);
  }
  *ctx.err << "maskctl: unknown command '" << name << "'\n\n" << UsageText() << "\n";
  return kExitUsage;
}

}  // namespace maskctl
}  // namespace maskserve
