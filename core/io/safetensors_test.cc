#include "core/io/safetensors.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

std::map<std::string, at::Tensor> SampleTensors() {
  return {
      {"a.weight", at::arange(12, at::kFloat).view({3, 4})},
      {"b.half", at::arange(6, at::kFloat).to(at::kHalf)},
      {"c.bf16", at::arange(5, at::kFloat).to(at::kBFloat16)},
      {"d.ids", at::arange(4, at::kLong)},
      {"e.empty", at::zeros({0, 3})},
  };
}

std::string HeaderOnlyFile(const std::string& header, size_t data_bytes = 0) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

void ExpectDataLoss(const std::string& bytes, const std::string& needle) {
  try {
    SafetensorsReader::FromBytes(bytes, "bad.safetensors");
    FAIL() << "expected DataLoss mentioning '" << needle << "'";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SafetensorsTest, RoundTripKeepsDtypesShapesAndMetadata) {
  auto tensors = SampleTensors();
  std::string bytes =
      SerializeSafetensors(tensors, {{"format", "pt"}, {"note", "a \"quoted\" value"}});
  SafetensorsReader reader = SafetensorsReader::FromBytes(bytes, "mem");
  EXPECT_EQ(reader.metadata().at("format"), "pt");
  EXPECT_EQ(reader.metadata().at("note"), "a \"quoted\" value");
  ASSERT_EQ(reader.entries().size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    at::Tensor loaded = reader.Load(name);
    EXPECT_EQ(loaded.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(at::equal(loaded, tensor)) << name;
  }
  EXPECT_EQ(reader.Find("b.half")->dtype, "F16");
  EXPECT_EQ(reader.Find("c.bf16")->dtype, "BF16");
}

TEST(SafetensorsTest, WritesAndOpensFiles) {
  std::string path = ::testing::TempDir() + "/roundtrip.safetensors";
  WriteSafetensors(path, SampleTensors());
  SafetensorsReader reader = SafetensorsReader::Open(path);
  EXPECT_TRUE(at::equal(reader.Load("a.weight"), SampleTensors()["a.weight"]));
  std::remove(path.c_str());
}

TEST(SafetensorsTest, MissingFileAndTensorAreNotFound) {
  try {
    SafetensorsReader::Open("/nonexistent/model.safetensors");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.safetensors"), std::string::npos);
  }
  SafetensorsReader reader =
      SafetensorsReader::FromBytes(SerializeSafetensors(SampleTensors()), "m");
  try {
    reader.Load("zzz");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("zzz"), std::string::npos);
  }
}

TEST(SafetensorsTest, MalformedFilesAreDataLossNamingTheProblem) {
  ExpectDataLoss("", "truncated");
  ExpectDataLoss(std::string("\x05\0\0\0\0\0\0\0{}", 10), "runs past the end");
  ExpectDataLoss(std::string("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10), "runs past the end");
  ExpectDataLoss(HeaderOnlyFile("{\"a\":"), "header");
  ExpectDataLoss(HeaderOnlyFile("[1,2]"), "not a JSON object");
  ExpectDataLoss(HeaderOnlyFile(R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", 1),
                 "tensor 'w': unsupported dtype 'F8'");
  ExpectDataLoss(HeaderOnlyFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
                 "tensor 'w': data_offsets [0, 8] outside");
  ExpectDataLoss(HeaderOnlyFile(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                 "tensor 'w': 8 bytes do not match");
  ExpectDataLoss(HeaderOnlyFile(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                 "tensor 'w': negative dimension");
  ExpectDataLoss(HeaderOnlyFile(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "tensor 'w'");
  ExpectDataLoss(
      HeaderOnlyFile(
          R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4),
      "tensor 'w'");
  ExpectDataLoss(HeaderOnlyFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                8),
                 "overlap");
  ExpectDataLoss(HeaderOnlyFile(R"({"__metadata__":{"k":1}})"), "__metadata__");
}

TEST(SafetensorsTest, TruncatedFileIsDataLoss) {
  std::string bytes = SerializeSafetensors(SampleTensors());
  ExpectDataLoss(bytes.substr(0, bytes.size() - 3), "outside");
}

// Random byte mutations of a valid file must either load or throw an
// EngineError; never crash, hang or throw anything else.
TEST(SafetensorsTest, SurvivesRandomCorruption) {
  const std::string valid = SerializeSafetensors(SampleTensors(), {{"k", "v"}});
  std::mt19937 rng(12345);
  int loaded = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = valid;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t pos = rng() % (round % 3 == 0 ? std::min<size_t>(bytes.size(), 16) : bytes.size());
      bytes[pos] = char(rng() & 0xff);
    }
    if (round % 7 == 0) bytes.resize(rng() % bytes.size());
    try {
      SafetensorsReader reader = SafetensorsReader::FromBytes(bytes, "fuzz");
      reader.LoadAll();
      ++loaded;
    } catch (const EngineError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);  // flips inside tensor data are harmless
}

}  // namespace
}  // namespace maskserve
