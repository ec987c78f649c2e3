#include "core/peft/shared_heads.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

TEST(SharedHeadsTest, SaveLoadRoundTripKeepsHeadsAndFingerprints) {
  SharedHeadSet set("backbone-fp");
  const SharedHead& news =
      set.Add("news", {"politics", "sports", "weird news"}, at::randn({3, 8}), at::randn({3}));
  set.Add("sentiment.v2", {"neg", "pos"}, at::randn({2, 8}), at::zeros({2}));
  EXPECT_EQ(news.fingerprint.size(), 64u);
  const std::string path = TempPath("heads.safetensors");
  set.Save(path);

  SharedHeadSet back = SharedHeadSet::Load(path);
  EXPECT_EQ(back.backbone_fingerprint(), "backbone-fp");
  ASSERT_EQ(back.heads().size(), 2u);
  const SharedHead* loaded = back.Find("news");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->labels, (std::vector<std::string>{"politics", "sports", "weird news"}));
  EXPECT_TRUE(at::equal(loaded->weight, set.Find("news")->weight));
  EXPECT_EQ(loaded->fingerprint, set.Find("news")->fingerprint);
  EXPECT_EQ(back.Find("missing"), nullptr);
}

TEST(SharedHeadsTest, FingerprintDependsOnLabelsAndWeights) {
  SharedHeadSet set("fp");
  at::Tensor w = at::randn({2, 4});
  const std::string a = set.Add("a", {"x", "y"}, w, at::zeros({2})).fingerprint;
  const std::string b = set.Add("b", {"x", "y"}, w, at::zeros({2})).fingerprint;
  const std::string c = set.Add("c", {"x", "z"}, w, at::zeros({2})).fingerprint;
  const std::string d = set.Add("d", {"x", "y"}, w + 1, at::zeros({2})).fingerprint;
  EXPECT_NE(a, b);  // the name is part of it
  SharedHeadSet other("fp");
  EXPECT_EQ(other.Add("a", {"x", "y"}, w, at::zeros({2})).fingerprint, a);
  EXPECT_NE(c, b);
  EXPECT_NE(d, b);
}

TEST(SharedHeadsTest, RefusesBadHeads) {
  SharedHeadSet set("fp");
  EXPECT_THROW(set.Add("bad name", {"x", "y"}, at::zeros({2, 4}), at::zeros({2})), EngineError);
  EXPECT_THROW(set.Add("", {"x", "y"}, at::zeros({2, 4}), at::zeros({2})), EngineError);
  EXPECT_THROW(set.Add("h", {"x"}, at::zeros({1, 4}), at::zeros({1})), EngineError);
  EXPECT_THROW(set.Add("h", {"x", "x"}, at::zeros({2, 4}), at::zeros({2})), EngineError);
  EXPECT_THROW(set.Add("h", {"x", "y"}, at::zeros({3, 4}), at::zeros({2})), EngineError);
  at::Tensor nan = at::zeros({2, 4});
  nan[0][0] = std::nan("");
  EXPECT_THROW(set.Add("h", {"x", "y"}, nan, at::zeros({2})), EngineError);
  set.Add("h", {"x", "y"}, at::zeros({2, 4}), at::zeros({2}));
  try {
    set.Add("h", {"x", "y"}, at::zeros({2, 4}), at::zeros({2}));
    FAIL() << "duplicate name accepted";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("shared_head.name"), std::string::npos);
  }
}

TEST(SharedHeadsTest, CorruptFilesAreDataLoss) {
  SharedHeadSet set("fp");
  set.Add("h", {"x", "y"}, at::zeros({2, 4}), at::zeros({2}));
  const std::string path = TempPath("corrupt_heads.safetensors");
  set.Save(path);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Truncated.
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), long(bytes.size() - 5));
  }
  try {
    SharedHeadSet::Load(path);
    FAIL() << "truncated file accepted";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
  }
  // Another kind of file.
  const std::string other = TempPath("not_heads.safetensors");
  {
    std::ofstream out(other, std::ios::binary | std::ios::trunc);
    out << "not a safetensors file at all";
  }
  EXPECT_THROW(SharedHeadSet::Load(other), EngineError);
  EXPECT_THROW(SharedHeadSet::Load(TempPath("absent.safetensors")), EngineError);
}

}  // namespace
}  // namespace maskserve
