#include "core/model/backbone.h"

#include <sys/stat.h>

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/io/safetensors.h"
#include "core/text/builtin_vocab.h"

namespace maskserve {

namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string BaseName(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  size_t slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

// The first line of `path`, or "" when there is no such file.
std::string FirstLine(const std::string& path) {
  if (!FileExists(path)) return "";
  std::string text = ReadFileBytes(path);
  return text.substr(0, text.find('\n'));
}

}  // namespace

Backbone LoadHfBackbone(const std::string& dir, const DeviceSpec& device,
                        std::optional<Pooling> pooling) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw NotFound("model_dir: '" + dir +
                   "' is not a directory (./scripts/fetch_model.sh installs the default model; "
                   "--model_dir=builtin serves the built-in test model)");
  }
  const std::string config_path = dir + "/config.json";
  BertConfig config =
      ParseBertConfig(JsonValue::Parse(ReadFileBytes(config_path), config_path), config_path);
  config.name = BaseName(dir);

  const std::string tokenizer_config_path = dir + "/tokenizer_config.json";
  if (FileExists(tokenizer_config_path)) {
    JsonValue tc = JsonValue::Parse(ReadFileBytes(tokenizer_config_path), tokenizer_config_path);
    if (tc.is_object() && tc.Contains("do_lower_case")) {
      config.lowercase = tc.GetBool("do_lower_case");
    }
  }

  const std::string pooling_path = dir + "/1_Pooling/config.json";
  if (pooling) {
    config.pooling = *pooling;
  } else if (FileExists(pooling_path)) {
    config.pooling = ParseSentenceTransformersPooling(
        JsonValue::Parse(ReadFileBytes(pooling_path), pooling_path), pooling_path);
  }

  const std::string vocab_path = dir + "/vocab.txt";
  Vocab vocab = Vocab::LoadFromFile(vocab_path);
  if (vocab.size() > config.vocab_size) {
    throw InvalidArgument(vocab_path + ": " + std::to_string(vocab.size()) +
                          " tokens but config.json vocab_size is " +
                          std::to_string(config.vocab_size));
  }

  const std::string weights_path = dir + "/model.safetensors";
  TensorMap tensors = SafetensorsReader::Open(weights_path).LoadAll();
  Backbone backbone;
  backbone.model = std::make_shared<const BertModel>(
      BertModel::FromTensors(config, tensors, device, weights_path));
  WordPieceOptions options;
  options.do_lower_case = config.lowercase;
  backbone.tokenizer = std::make_shared<const WordPieceTokenizer>(std::move(vocab), options);
  backbone.source = dir;
  backbone.origin = FirstLine(dir + "/SOURCE");
  return backbone;
}

Backbone LoadBackbone(const std::string& dir, const DeviceSpec& device,
                      std::optional<Pooling> pooling) {
  if (dir.empty() || dir == kBuiltinModelDir) {
    return BuiltinBackbone(device, kBuiltinBackboneSeed, pooling.value_or(Pooling::kPooler));
  }
  return LoadHfBackbone(dir, device, pooling);
}

Backbone BuiltinBackbone(const DeviceSpec& device, uint64_t seed, Pooling pooling) {
  BertConfig config = BuiltinTinyBertConfig();
  config.pooling = pooling;
  Backbone backbone;
  backbone.model = std::make_shared<const BertModel>(BertModel::Random(config, device, seed));
  WordPieceOptions options;
  options.do_lower_case = true;
  backbone.tokenizer = std::make_shared<const WordPieceTokenizer>(
      Vocab::FromTokens(BuiltinVocabTokens(), "builtin vocabulary"), options);
  backbone.source = kBuiltinModelDir;
  backbone.origin = "built-in random tiny BERT (seed " + std::to_string(seed) + ")";
  return backbone;
}

}  // namespace maskserve
