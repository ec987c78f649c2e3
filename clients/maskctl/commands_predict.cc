// predict.
#include <istream>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "clients/maskctl/commands.h"
#include "clients/maskctl/format.h"
#include "core/base/utf8.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace maskctl {
namespace {

// The texts to classify: the arguments after the profile id, or the lines of
// stdin when there are none (or the only one is "-"). Blank lines are
// skipped.
std::vector<std::string> CollectTexts(const CommandContext& ctx) {
  std::vector<std::string> texts(ctx.args.begin() + 1, ctx.args.end());
  if (!texts.empty() && !(texts.size() == 1 && texts[0] == "-")) return texts;
  texts.clear();
  std::string line;
  while (std::getline(*ctx.in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    texts.push_back(line);
  }
  return texts;
}

v1::TextInput ToInput(const std::string& text, bool pairs) {
  v1::TextInput input;
  const size_t tab = pairs ? text.find('\t') : std::string::npos;
  if (tab == std::string::npos) {
    input.set_text(text);
  } else {
    input.set_text(text.substr(0, tab));
    input.set_text_pair(text.substr(tab + 1));
  }
  return input;
}

// "label<TAB>probability[<TAB>top labels]<TAB>text".
void PrintPredictions(const CommandContext& ctx, const v1::PredictRequest& request,
                      const v1::PredictResponse& response) {
  for (int i = 0; i < response.predictions_size(); ++i) {
    const v1::Prediction& p = response.predictions(i);
    const float probability = p.label_index() < static_cast<uint32_t>(p.probabilities_size())
                                  ? p.probabilities(static_cast<int>(p.label_index()))
                                  : (p.top_size() > 0 ? p.top(0).probability() : 0.0f);
    std::string line = absl::StrCat(p.label(), "\t", FormatFloat(probability));
    if (ctx.options.predict.top_k > 1) {
      std::string top;
      for (const v1::LabelScore& score : p.top()) {
        absl::StrAppend(&top, top.empty() ? "" : " ", score.label(), "=",
                        FormatFloat(score.probability()));
      }
      absl::StrAppend(&line, "\t", top);
    }
    if (i < request.inputs_size()) {
      const v1::TextInput& input = request.inputs(i);
      absl::StrAppend(&line, "\t", input.text());
      if (!input.text_pair().empty()) absl::StrAppend(&line, "\t", input.text_pair());
    }
    *ctx.out << line << "\n";
  }
  ctx.out->flush();
}

}  // namespace

int RunPredict(const CommandContext& ctx) {
  const PredictOptions& options = ctx.options.predict;
  const std::vector<std::string> texts = CollectTexts(ctx);
  if (texts.empty())
    return ReportUsageError(ctx, "predict: no texts (give them as arguments or stdin lines)");
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t bad = InvalidUtf8At(texts[i]);
    if (bad != std::string::npos) {
      return ReportUsageError(
          ctx, absl::StrCat("predict: text ", i + 1, ": invalid UTF-8 at byte ", bad));
    }
  }
  const size_t per_call = options.inputs_per_call == 0 ? 64 : options.inputs_per_call;
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  for (size_t begin = 0; begin < texts.size(); begin += per_call) {
    v1::PredictRequest request;
    request.set_profile_id(ctx.args[0]);
    request.set_top_k(options.top_k);
    request.set_return_logits(options.return_logits);
    for (size_t i = begin; i < texts.size() && i < begin + per_call; ++i) {
      *request.add_inputs() = ToInput(texts[i], options.pairs);
    }
    grpc::ClientContext context;
    PrepareUnary(ctx, &context);
    v1::PredictResponse response;
    grpc::Status status = stub->Predict(&context, request, &response);
    if (!status.ok()) return ReportRpcError(ctx, "predict", status);
    if (ctx.options.json) {
      PrintJsonLine(ctx, response);
    } else {
      PrintPredictions(ctx, request, response);
    }
  }
  return kExitOk;
}

}  // namespace maskctl
}  // namespace maskserve
