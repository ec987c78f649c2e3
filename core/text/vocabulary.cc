#include "core/text/vocabulary.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "core/base/error.h"
#include "core/base/utf8.h"

namespace maskserve {
namespace {

// Open addressing over string_views into one arena.
inline uint64_t HashBytes(const char* p, size_t n) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (n * kMul);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  h = (h ^ v) * kMul;
  h ^= h >> 32;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

class TokenTable {
 public:
  // Keys are arena[offset, offset + len); a later insert of an equal key
  // overwrites the id (Python dict semantics).
  void Build(const std::string* arena, const std::vector<std::pair<uint32_t, uint32_t>>& keys,
             const std::vector<int32_t>& ids) {
    arena_ = arena;
    size_t capacity = 16;
    while (capacity < keys.size() * 2) capacity <<= 1;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    max_len_ = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      const char* p = arena_->data() + keys[i].first;
      uint32_t len = keys[i].second;
      uint64_t h = HashBytes(p, len);
      uint32_t tag = static_cast<uint32_t>(h >> 32);
      for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
        Slot& slot = slots_[s];
        if (slot.id < 0) {
          slot = Slot{tag, keys[i].first, len, ids[i]};
          break;
        }
        if (slot.tag == tag && slot.len == len &&
            std::memcmp(arena_->data() + slot.offset, p, len) == 0) {
          slot.id = ids[i];
          break;
        }
      }
      max_len_ = std::max<size_t>(max_len_, len);
    }
  }

  int32_t Find(const char* p, size_t len) const {
    if (len > max_len_ || slots_.empty()) return -1;
    uint64_t h = HashBytes(p, len);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.id < 0) return -1;
      if (slot.tag == tag && slot.len == len &&
          std::memcmp(arena_->data() + slot.offset, p, len) == 0) {
        return slot.id;
      }
    }
  }

  size_t max_len() const { return max_len_; }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t offset = 0;
    uint32_t len = 0;
    int32_t id = -1;
  };
  const std::string* arena_ = nullptr;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t max_len_ = 0;
};

}  // namespace

struct Vocab::Data {
  std::string source;
  std::string arena;              // all tokens, concatenated
  std::vector<uint32_t> offsets;  // token i is arena[offsets[i], offsets[i+1])
  TokenTable full;                // every token
  TokenTable continuation;        // "##x" tokens, keyed by "x"
  int32_t unk = -1, cls = -1, sep = -1, pad = -1, mask = -1;
};

namespace {

std::shared_ptr<const Vocab::Data> BuildVocab(std::vector<std::string_view> tokens,
                                              std::string_view source) {
  auto data = std::make_shared<Vocab::Data>();
  data->source = std::string(source);
  if (tokens.empty()) {
    throw InvalidArgument(data->source + ": empty vocabulary (no tokens)");
  }
  if (tokens.size() > static_cast<size_t>(INT32_MAX - 1)) {
    throw InvalidArgument(data->source + ": too many tokens");
  }
  size_t total = 0;
  for (std::string_view t : tokens) total += t.size();
  if (total > UINT32_MAX) throw InvalidArgument(data->source + ": vocabulary too large");
  data->arena.reserve(total);
  data->offsets.reserve(tokens.size() + 1);
  std::vector<std::pair<uint32_t, uint32_t>> full_keys, cont_keys;
  std::vector<int32_t> full_ids, cont_ids;
  full_keys.reserve(tokens.size());
  full_ids.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    uint32_t offset = static_cast<uint32_t>(data->arena.size());
    data->offsets.push_back(offset);
    data->arena.append(tokens[i]);
    uint32_t len = static_cast<uint32_t>(tokens[i].size());
    full_keys.emplace_back(offset, len);
    full_ids.push_back(static_cast<int32_t>(i));
    if (len >= 2 && tokens[i][0] == '#' && tokens[i][1] == '#') {
      cont_keys.emplace_back(offset + 2, len - 2);
      cont_ids.push_back(static_cast<int32_t>(i));
    }
  }
  data->offsets.push_back(static_cast<uint32_t>(data->arena.size()));
  data->full.Build(&data->arena, full_keys, full_ids);
  data->continuation.Build(&data->arena, cont_keys, cont_ids);

  auto find = [&](const char* t) { return data->full.Find(t, std::strlen(t)); };
  data->unk = find("[UNK]");
  data->cls = find("[CLS]");
  data->sep = find("[SEP]");
  data->pad = find("[PAD]");
  data->mask = find("[MASK]");
  const char* missing = data->unk < 0   ? "[UNK]"
                        : data->cls < 0 ? "[CLS]"
                        : data->sep < 0 ? "[SEP]"
                        : data->pad < 0 ? "[PAD]"
                                        : nullptr;
  if (missing != nullptr) {
    throw InvalidArgument(data->source + ": vocabulary has no " + missing + " token (" +
                          std::to_string(tokens.size()) + " tokens read)");
  }
  return data;
}

}  // namespace

Vocab Vocab::FromText(std::string_view contents, std::string_view source_name) {
  // Python's text mode: lines end at \n, \r\n or \r; the terminator is not
  // part of the token. A final line without a terminator still counts.
  std::vector<std::string_view> tokens;
  size_t line_no = 1;
  size_t i = 0;
  const size_t n = contents.size();
  while (i < n) {
    size_t j = i;
    while (j < n && contents[j] != '\n' && contents[j] != '\r') ++j;
    std::string_view line = contents.substr(i, j - i);
    // Validate UTF-8 (Python would fail to decode the file).
    for (size_t k = 0; k < line.size();) {
      unsigned char c = static_cast<unsigned char>(line[k]);
      if (c < 0x80) {
        ++k;
        continue;
      }
      char32_t cp;
      size_t len =
          DecodeUtf8(reinterpret_cast<const unsigned char*>(line.data()) + k, line.size() - k, &cp);
      if (len == 0) {
        throw DataLoss(std::string(source_name) + ":" + std::to_string(line_no) +
                       ": invalid UTF-8 at byte " + std::to_string(i + k));
      }
      k += len;
    }
    tokens.push_back(line);
    if (j < n) {
      if (contents[j] == '\r' && j + 1 < n && contents[j + 1] == '\n') ++j;
      ++j;
    }
    i = j;
    ++line_no;
  }
  return Vocab(BuildVocab(std::move(tokens), source_name));
}

Vocab Vocab::LoadFromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw NotFound(path + ": cannot open vocabulary file: " + std::strerror(errno));
  }
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataLoss(path + ": read error");
  return FromText(contents, path);
}

Vocab Vocab::FromTokens(const std::vector<std::string>& tokens, std::string_view source_name) {
  std::vector<std::string_view> views(tokens.begin(), tokens.end());
  return Vocab(BuildVocab(std::move(views), source_name));
}

int64_t Vocab::size() const { return static_cast<int64_t>(data_->offsets.size()) - 1; }

int32_t Vocab::Find(std::string_view token) const {
  return data_->full.Find(token.data(), token.size());
}

int32_t Vocab::FindContinuation(std::string_view suffix) const {
  return data_->continuation.Find(suffix.data(), suffix.size());
}

std::string_view Vocab::Token(int64_t id) const {
  if (id < 0 || id >= size()) {
    throw InvalidArgument(data_->source + ": token id " + std::to_string(id) +
                          " out of range [0, " + std::to_string(size()) + ")");
  }
  uint32_t b = data_->offsets[id];
  uint32_t e = data_->offsets[id + 1];
  return std::string_view(data_->arena.data() + b, e - b);
}

int32_t Vocab::unk_id() const { return data_->unk; }
int32_t Vocab::cls_id() const { return data_->cls; }
int32_t Vocab::sep_id() const { return data_->sep; }
int32_t Vocab::pad_id() const { return data_->pad; }
int32_t Vocab::mask_id() const { return data_->mask; }
const std::string& Vocab::source() const { return data_->source; }
size_t Vocab::max_token_bytes() const { return data_->full.max_len(); }
size_t Vocab::max_continuation_bytes() const { return data_->continuation.max_len(); }

}  // namespace maskserve
