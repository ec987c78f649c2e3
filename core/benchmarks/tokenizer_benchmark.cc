// File: core/benchmarks/tokenizer_benchmark.cc
//
// Single-threaded WordPiece throughput. Tokenizes the GLUE SST-2 training
// sentences (../shared/data/glue/SST-2/train.tsv, first column, header
// skipped) with the bert-base-uncased vocabulary, or deterministic synthetic
// text and vocabulary when the shared data is absent, and prints one JSON
// line followed by a short human-readable table.
//
// Usage: tokenizer_benchmark [--shared DIR] [--vocab FILE] [--data FILE]
//                            [--cased] [--repeats N] [--batch N]
//                            [--max_length N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/error.h"
#include "core/text/wordpiece_tokenizer.h"

namespace maskserve {
namespace {

std::string DefaultSharedDir() {
  if (const char* env = std::getenv("MASKSERVE_SHARED_DIR")) return env;
#if defined(MASKSERVE_SHARED_DIR)
  return MASKSERVE_SHARED_DIR;
#elif defined(MASKSERVE_SOURCE_DIR)
  return std::string(MASKSERVE_SOURCE_DIR) + "/../shared";
#else
  return "../shared";
#endif
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// First tab-separated column of every line after the header.
std::vector<std::string> ReadTsvFirstColumn(const std::string& contents) {
  std::vector<std::string> rows;
  std::istringstream in(contents);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    rows.push_back(line.substr(0, line.find('\t')));
  }
  return rows;
}

// Deterministic stand-ins when the shared data is missing.
std::vector<std::string> SyntheticVocab() {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (char c = '!'; c <= '~'; ++c) tokens.push_back(std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) tokens.push_back(std::string("##") + c);
  uint64_t state = 42;
  for (int i = 0; i < 3000; ++i) {
    std::string word;
    int len = 2 + static_cast<int>((state >> 33) % 8);
    for (int k = 0; k < len; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      word.push_back(static_cast<char>('a' + (state >> 33) % 26));
    }
    tokens.push_back(i % 3 == 0 ? "##" + word : word);
  }
  return tokens;
}

std::vector<std::string> SyntheticSentences(size_t count) {
  static const char* kWords[] = {"the",   "movie", "is",     "a",     "charming", "and",
                                 "often", "funny", "story",  "about", "love",     ",",
                                 "but",   "it",    "never",  "quite", "works",    ".",
                                 "Café",  "naïve", "résumé", "don't", "U.S.",     "2002"};
  const size_t n_words = sizeof(kWords) / sizeof(kWords[0]);
  std::vector<std::string> out;
  uint64_t state = 7;
  for (size_t i = 0; i < count; ++i) {
    std::string s;
    int len = 4 + static_cast<int>(i % 30);
    for (int k = 0; k < len; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      if (k) s += ' ';
      s += kWords[(state >> 33) % n_words];
    }
    out.push_back(std::move(s));
  }
  return out;
}

struct Args {
  std::string shared = DefaultSharedDir();
  std::string vocab, data;
  bool lower = true;
  int repeats = 3;
  int batch = 32;
  int64_t max_length = 128;
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--shared") {
      a.shared = value();
    } else if (arg == "--vocab") {
      a.vocab = value();
    } else if (arg == "--data") {
      a.data = value();
    } else if (arg == "--cased") {
      a.lower = false;
    } else if (arg == "--repeats") {
      a.repeats = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--batch") {
      a.batch = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--max_length") {
      a.max_length = std::max(3, std::atoi(value().c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: %s [--shared DIR] [--vocab FILE] [--data FILE] [--cased] "
                   "[--repeats N] [--batch N] [--max_length N]\n",
                   argv[0]);
      std::exit(arg == "--help" || arg == "-h" ? 0 : 2);
    }
  }
  if (a.vocab.empty()) a.vocab = a.shared + "/data/vocab/bert-base-uncased-vocab.txt";
  if (a.data.empty()) a.data = a.shared + "/data/glue/SST-2/train.tsv";
  return a;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

int Run(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);

  std::string vocab_text, data_text;
  const bool have_vocab = ReadFile(args.vocab, &vocab_text);
  const bool have_data = ReadFile(args.data, &data_text);
  Vocab vocab = have_vocab ? Vocab::FromText(vocab_text, args.vocab)
                           : Vocab::FromTokens(SyntheticVocab(), "synthetic-vocab");
  std::vector<std::string> sentences =
      have_data ? ReadTsvFirstColumn(data_text) : SyntheticSentences(67349);
  const std::string data_name = have_data ? "sst2-train" : "synthetic";
  if (!have_data || !have_vocab) {
    std::fprintf(stderr, "note: shared data not found (%s%s); using synthetic %s\n",
                 have_data ? "" : args.data.c_str(), have_vocab ? "" : (" " + args.vocab).c_str(),
                 have_data ? "vocabulary" : (have_vocab ? "text" : "text and vocabulary"));
  }

  WordPieceOptions options;
  options.do_lower_case = args.lower;
  WordPieceTokenizer tokenizer(vocab, options);

  size_t bytes = 0;
  for (const std::string& s : sentences) bytes += s.size();
  std::vector<std::string_view> views(sentences.begin(), sentences.end());

  // 1. Tokenize (ids only, no [CLS]/[SEP]), best of `repeats` passes.
  std::vector<int64_t> ids;
  ids.reserve(1024);
  size_t tokens = 0;
  double best_tokenize = 1e30;
  for (int r = 0; r <= args.repeats; ++r) {  // pass 0 warms up
    size_t count = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (std::string_view s : views) {
      ids.clear();
      tokenizer.TokenizeToIds(s, &ids);
      count += ids.size();
    }
    double sec = Seconds(std::chrono::steady_clock::now() - t0);
    tokens = count;
    if (r > 0) best_tokenize = std::min(best_tokenize, sec);
  }

  // 2. Batch encode (truncate + pad to the longest row), best of `repeats`.
  EncodeOptions encode;
  encode.max_length = args.max_length;
  encode.padding = Padding::kLongest;
  double best_batch = 1e30;
  int64_t padded_cells = 0;
  for (int r = 0; r <= args.repeats; ++r) {
    int64_t cells = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t b = 0; b < views.size(); b += args.batch) {
      size_t e = std::min(views.size(), b + static_cast<size_t>(args.batch));
      std::vector<std::string_view> chunk(views.begin() + b, views.begin() + e);
      BatchEncoding batch = tokenizer.EncodeBatch(chunk, encode);
      cells += batch.batch_size * batch.seq_len;
    }
    double sec = Seconds(std::chrono::steady_clock::now() - t0);
    padded_cells = cells;
    if (r > 0) best_batch = std::min(best_batch, sec);
  }

  const double n = static_cast<double>(sentences.size());
  std::printf(
      "{\"benchmark\":\"wordpiece_tokenizer\",\"data\":\"%s\",\"vocab_size\":%"
      "lld,"
      "\"lower\":%s,\"threads\":1,\"sentences\":%zu,\"bytes\":%zu,\"tokens\":%"
      "zu,"
      "\"tokenize_seconds\":%.6f,\"sentences_per_s\":%.1f,\"tokens_per_s\":%."
      "1f,"
      "\"mb_per_s\":%.2f,\"batch_size\":%d,\"max_length\":%lld,"
      "\"batch_encode_seconds\":%.6f,\"batch_encode_sentences_per_s\":%.1f,"
      "\"padded_cells\":%lld}\n",
      data_name.c_str(), static_cast<long long>(vocab.size()), args.lower ? "true" : "false",
      sentences.size(), bytes, tokens, best_tokenize, n / best_tokenize,
      static_cast<double>(tokens) / best_tokenize, static_cast<double>(bytes) / best_tokenize / 1e6,
      args.batch, static_cast<long long>(args.max_length), best_batch, n / best_batch,
      static_cast<long long>(padded_cells));
  std::printf("\n%-34s %14s\n", "WordPiece tokenizer (1 thread)", data_name.c_str());
  std::printf("%-34s %14zu\n", "sentences", sentences.size());
  std::printf("%-34s %14zu\n", "tokens (no [CLS]/[SEP])", tokens);
  std::printf("%-34s %14.3f\n", "tokenize: seconds (best)", best_tokenize);
  std::printf("%-34s %14.0f\n", "tokenize: sentences/s", n / best_tokenize);
  std::printf("%-34s %14.0f\n", "tokenize: tokens/s", static_cast<double>(tokens) / best_tokenize);
  std::printf("%-34s %14.1f\n", "tokenize: MB/s", static_cast<double>(bytes) / best_tokenize / 1e6);
  std::printf("%-34s %14.0f\n", "batch encode: sentences/s", n / best_batch);
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  try {
    return maskserve::Run(argc, argv);
  } catch (const maskserve::EngineError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
