#include "core/profile/profile_codec.h"

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "core/base/bit_packing.h"
#include "core/base/crc32.h"
#include "core/base/error.h"
#include "core/base/fp16.h"

namespace maskserve {
namespace {

const std::string kFingerprint(64, 'a');
const std::string kBankFingerprint(64, 'b');

// An X-PEFT hard profile at BERT-base shape: N=100, k=50, L=12, d=768, b=48.
ProfileData XpeftHardBase(size_t num_labels = 2) {
  ProfileData p;
  p.method = Method::kXpeftHard;
  p.backbone_fingerprint = kFingerprint;
  p.bank_fingerprint = kBankFingerprint;
  p.shape = {12, 768, 48, 100, 50, 0};
  for (size_t i = 0; i < num_labels; ++i) p.labels.push_back("label" + std::to_string(i));
  std::vector<uint8_t> mask(2 * 12 * 100, 0);
  for (size_t row = 0; row < 24; ++row) {
    for (size_t i = 0; i < 50; ++i) mask[row * 100 + (i * 2 + row) % 100] = 1;
  }
  p.mask_bits = PackBitRows(mask.data(), 24, 100);
  p.head_weight.assign(num_labels * 768, FloatToHalf(0.25f));
  p.head_bias.assign(num_labels, FloatToHalf(-1.5f));
  p.metrics.validation_accuracy = 0.875f;
  p.metrics.train_examples = 40;
  p.metrics.train_accuracy = 0.95f;
  p.metrics.train_macro_f1 = 0.5f;
  return p;
}

// The same profile with its head weight stored as int8 + per-row scales.
ProfileData WithInt8Head(ProfileData p) {
  const size_t C = p.labels.size(), d = p.shape.hidden_size;
  p.head_weight.clear();
  p.head_weight_int8.resize(C * d);
  for (size_t i = 0; i < p.head_weight_int8.size(); ++i) {
    p.head_weight_int8[i] = int8_t(int(i % 255) - 127);
  }
  p.head_weight_scale.assign(C, FloatToHalf(0.01f));
  return p;
}

// The DataLoss message of encoding `p` ("" when it encodes).
std::string EncodeError(const ProfileData& p) {
  try {
    EncodeProfile(p);
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
    return e.what();
  }
  return "";
}

// One encoded record: u16 tag, u32 length, value.
std::string Record(uint16_t tag, const std::string& value) {
  std::string out;
  for (int i = 0; i < 2; ++i) out.push_back(char((tag >> (8 * i)) & 0xff));
  const uint32_t length = uint32_t(value.size());
  for (int i = 0; i < 4; ++i) out.push_back(char((length >> (8 * i)) & 0xff));
  return out + value;
}

void ExpectEqual(const ProfileData& a, const ProfileData& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.backbone_fingerprint, b.backbone_fingerprint);
  EXPECT_EQ(a.bank_fingerprint, b.bank_fingerprint);
  EXPECT_TRUE(a.shape == b.shape);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.mask_bits, b.mask_bits);
  EXPECT_EQ(a.mask_weights, b.mask_weights);
  EXPECT_EQ(a.norm_params, b.norm_params);
  EXPECT_EQ(a.adapter_params, b.adapter_params);
  EXPECT_EQ(a.head_weight, b.head_weight);
  EXPECT_EQ(a.head_weight_int8, b.head_weight_int8);
  EXPECT_EQ(a.head_weight_scale, b.head_weight_scale);
  EXPECT_EQ(a.head_bias, b.head_bias);
  EXPECT_EQ(a.metrics.validation_accuracy, b.metrics.validation_accuracy);
  EXPECT_EQ(a.metrics.train_examples, b.metrics.train_examples);
  EXPECT_EQ(a.metrics.train_accuracy, b.metrics.train_accuracy);
  EXPECT_EQ(a.metrics.train_macro_f1, b.metrics.train_macro_f1);
}

TEST(ProfileCodecTest, XpeftHardMasksTakeExactly312BytesAtBertBaseShape) {
  ProfileData p = XpeftHardBase();
  ProfileBytes size = MeasureProfile(p);
  EXPECT_EQ(size.masks, 2u * ((100 + 7) / 8) * 12);  // 2*ceil(N/8)*L
  EXPECT_EQ(size.masks, 312u);
  EXPECT_EQ(size.head, 2u * (2 * 768 + 2));  // fp16 head for 2 classes
  EXPECT_EQ(size.total, size.masks + size.head + size.metadata);
  EXPECT_LT(size.metadata, 300u);
}

TEST(ProfileCodecTest, RoundTripsEveryMethod) {
  ProfileData hard = XpeftHardBase(3);
  hard.norm_params.assign(2 * 12 * 48, FloatToHalf(1.0f));
  ExpectEqual(DecodeProfile(EncodeProfile(hard)), hard);

  ProfileData soft = XpeftHardBase();
  soft.method = Method::kXpeftSoft;
  soft.mask_bits.clear();
  soft.mask_weights.assign(2 * 12 * 100, FloatToHalf(0.01f));
  ExpectEqual(DecodeProfile(EncodeProfile(soft)), soft);

  ProfileData layer = XpeftHardBase();
  layer.method = Method::kPropetlLayer;
  layer.shape = {2, 16, 4, 0, 0, 0.5f};
  layer.head_weight.assign(2 * 16, 0);
  layer.mask_bits.assign(2 * 2 * PackedBytes(16 * 4), 0x5a);
  ExpectEqual(DecodeProfile(EncodeProfile(layer)), layer);

  ProfileData hybrid = layer;
  hybrid.method = Method::kPropetlHybrid;
  hybrid.mask_bits.assign(2 * PackedBytes(16 * 4), 0x0f);
  ExpectEqual(DecodeProfile(EncodeProfile(hybrid)), hybrid);

  ProfileData adapter = layer;
  adapter.method = Method::kAdapter;
  adapter.bank_fingerprint.clear();
  adapter.mask_bits.clear();
  adapter.adapter_params.assign(2 * (2 * 16 * 4 + 4 + 16), FloatToHalf(0.5f));
  ExpectEqual(DecodeProfile(EncodeProfile(adapter)), adapter);

  ProfileData head = adapter;
  head.method = Method::kHeadOnly;
  head.adapter_params.clear();
  ExpectEqual(DecodeProfile(EncodeProfile(head)), head);
}

TEST(ProfileCodecTest, Int8HeadRoundTripsForEveryMethod) {
  ProfileData hard = WithInt8Head(XpeftHardBase(3));
  hard.head_weight_scale[1] = FloatToHalf(0.0f);  // an all-zero row
  ProfileData back = DecodeProfile(EncodeProfile(hard));
  ExpectEqual(back, hard);
  EXPECT_TRUE(back.has_int8_head());
  EXPECT_TRUE(back.head_weight.empty());

  ProfileData head = XpeftHardBase();
  head.method = Method::kHeadOnly;
  head.bank_fingerprint.clear();
  head.mask_bits.clear();
  head = WithInt8Head(head);
  ExpectEqual(DecodeProfile(EncodeProfile(head)), head);
}

TEST(ProfileCodecTest, Int8HeadBytesAreOneBytePerWeightPlusScalesAndBias) {
  const size_t C = 3, d = 768;
  ProfileData p = WithInt8Head(XpeftHardBase(C));
  ProfileBytes size = MeasureProfile(p);
  EXPECT_EQ(size.head, C * d + 2 * C + 2 * C);  // int8 weight, fp16 scales, fp16 bias
  EXPECT_EQ(size.masks, 312u);
  EXPECT_EQ(size.total, size.masks + size.head + size.metadata);
  EXPECT_EQ(size.total, EncodeProfile(p).size());
  // The framing of the extra record is metadata, not head.
  EXPECT_LT(size.metadata, MeasureProfile(XpeftHardBase(C)).metadata + 16);
}

TEST(ProfileCodecTest, HeadMustHaveExactlyOneWeightFormOfTheRightSize) {
  ProfileData both = WithInt8Head(XpeftHardBase());
  both.head_weight.assign(2 * 768, 0);
  EXPECT_NE(EncodeError(both).find("both set"), std::string::npos) << EncodeError(both);

  ProfileData neither = XpeftHardBase();
  neither.head_weight.clear();
  EXPECT_NE(EncodeError(neither).find("head_weight missing"), std::string::npos)
      << EncodeError(neither);

  ProfileData short_weight = WithInt8Head(XpeftHardBase());
  short_weight.head_weight_int8.pop_back();
  EXPECT_NE(EncodeError(short_weight).find("head_weight_int8 has 1535 elements, expected 1536"),
            std::string::npos)
      << EncodeError(short_weight);

  ProfileData no_scales = WithInt8Head(XpeftHardBase());
  no_scales.head_weight_scale.clear();
  EXPECT_NE(EncodeError(no_scales).find("head_weight_scale has 0 elements, expected 2"),
            std::string::npos)
      << EncodeError(no_scales);

  ProfileData scales_only = XpeftHardBase();
  scales_only.head_weight.clear();
  scales_only.head_weight_scale.assign(2, FloatToHalf(1.0f));
  EXPECT_NE(EncodeError(scales_only).find("head_weight_int8 has 0 elements"), std::string::npos)
      << EncodeError(scales_only);

  for (float bad : {std::numeric_limits<float>::infinity(), std::nanf(""), -0.5f}) {
    ProfileData p = WithInt8Head(XpeftHardBase());
    p.head_weight_scale[1] = FloatToHalf(bad);
    EXPECT_NE(EncodeError(p).find("head_weight_scale[1]"), std::string::npos) << bad;
  }
  ProfileData wrong_bias = WithInt8Head(XpeftHardBase());
  wrong_bias.head_bias.push_back(0);
  EXPECT_NE(EncodeError(wrong_bias).find("head_bias"), std::string::npos);
}

// `good` with its records rewritten by `edit(tag, value)` (false drops the
// record) and `extra` (whole records) appended; the checksum is recomputed,
// so only the payload is hostile.
std::string RewriteRecords(const std::string& good,
                           const std::function<bool(uint16_t, std::string*)>& edit,
                           const std::string& extra = "") {
  auto read = [&](size_t at, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | uint8_t(good[at + size_t(i)]);
    return v;
  };
  std::string out = good.substr(0, 6);  // magic, version
  for (size_t at = 6; at < good.size();) {
    const uint16_t tag = uint16_t(read(at, 2));
    const uint32_t length = read(at + 2, 4);
    std::string value = good.substr(at + 6, length);
    at += 6 + length;
    if (tag == 0xffff || !edit(tag, &value)) continue;
    out += Record(tag, value);
  }
  out += extra;
  const uint32_t crc = Crc32(out.data(), out.size());
  std::string crc_bytes;
  for (int i = 0; i < 4; ++i) crc_bytes.push_back(char((crc >> (8 * i)) & 0xff));
  return out + Record(0xffff, crc_bytes);
}

TEST(ProfileCodecTest, HostileInt8HeadRecordsAreDataLoss) {
  constexpr uint16_t kInt8Tag = 13, kScaleTag = 14;  // profile_codec.cc
  const std::string good = EncodeProfile(WithInt8Head(XpeftHardBase()));
  auto keep = [](uint16_t, std::string*) { return true; };
  ASSERT_EQ(RewriteRecords(good, keep), good);
  const std::vector<std::function<bool(uint16_t, std::string*)>> edits = {
      [](uint16_t tag, std::string*) { return tag != kInt8Tag; },
      [](uint16_t tag, std::string*) { return tag != kScaleTag; },
      [](uint16_t tag, std::string* v) {
        if (tag == kInt8Tag) v->pop_back();
        return true;
      },
      [](uint16_t tag, std::string* v) {
        if (tag == kScaleTag) v->pop_back();  // odd length
        return true;
      },
      [](uint16_t tag, std::string* v) {
        if (tag == kScaleTag) (*v)[1] = char(0x7c);  // scale[0] becomes NaN
        return true;
      },
      [](uint16_t tag, std::string* v) {
        if (tag == kInt8Tag) v->append(size_t(1) << 16, 'x');
        return true;
      },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    try {
      DecodeProfile(RewriteRecords(good, edits[i]));
      ADD_FAILURE() << "edit " << i << " was accepted";
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << "edit " << i << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("head_weight"), std::string::npos) << e.what();
    }
  }
  // An fp16 weight record next to the int8 one: two forms.
  const std::string fp16_weight = Record(10, std::string(2 * 768 * 2, '\0'));
  EXPECT_THROW(DecodeProfile(RewriteRecords(good, keep, fp16_weight)), EngineError);
}

// The same profile referencing a shared head instead of storing one.
ProfileData WithSharedHead(ProfileData p) {
  p.head_weight.clear();
  p.head_bias.clear();
  p.shared_head = "news.v1";
  p.shared_head_fingerprint = std::string(64, 'c');
  return p;
}

TEST(ProfileCodecTest, SharedHeadReferenceRoundTripsAndTakesNoHeadBytes) {
  const ProfileData p = WithSharedHead(XpeftHardBase(29));
  const ProfileData back = DecodeProfile(EncodeProfile(p));
  EXPECT_EQ(back.shared_head, "news.v1");
  EXPECT_EQ(back.shared_head_fingerprint, std::string(64, 'c'));
  EXPECT_TRUE(back.has_shared_head());
  EXPECT_TRUE(back.head_weight.empty() && back.head_bias.empty());
  EXPECT_EQ(back.labels, p.labels);
  const ProfileBytes size = MeasureProfile(p);
  EXPECT_EQ(size.head, 0u);
  EXPECT_EQ(size.masks, 312u);
  EXPECT_EQ(size.total, size.masks + size.metadata);
}

TEST(ProfileCodecTest, SharedHeadReferenceMustBeWellFormedAndAlone) {
  ProfileData with_weights = WithSharedHead(XpeftHardBase());
  with_weights.head_bias.assign(2, 0);
  EXPECT_NE(EncodeError(with_weights).find("stores no head weights"), std::string::npos)
      << EncodeError(with_weights);
  ProfileData bad_name = WithSharedHead(XpeftHardBase());
  bad_name.shared_head = "has space";
  EXPECT_NE(EncodeError(bad_name).find("shared_head must be"), std::string::npos);
  ProfileData bad_fingerprint = WithSharedHead(XpeftHardBase());
  bad_fingerprint.shared_head_fingerprint = "abc";
  EXPECT_NE(EncodeError(bad_fingerprint).find("shared_head_fingerprint"), std::string::npos);
  ProfileData fingerprint_only = XpeftHardBase();
  fingerprint_only.shared_head_fingerprint = std::string(64, 'c');
  EXPECT_NE(EncodeError(fingerprint_only).find("shared_head must be"), std::string::npos);
  ProfileData head_only = WithSharedHead(XpeftHardBase());
  head_only.method = Method::kHeadOnly;
  head_only.bank_fingerprint.clear();
  head_only.mask_bits.clear();
  head_only.shape = {12, 768, 0, 0, 0, 0};
  EXPECT_NE(EncodeError(head_only).find("HEAD_ONLY"), std::string::npos) << EncodeError(head_only);
}

TEST(ProfileCodecTest, LabelsKeepUtf8AndOrder) {
  ProfileData p = XpeftHardBase(3);
  p.labels = {"négatif", "中立", "positive \"quoted\""};
  EXPECT_EQ(DecodeProfile(EncodeProfile(p)).labels, p.labels);
}

TEST(ProfileCodecTest, InconsistentProfilesAreRejected) {
  ProfileData p = XpeftHardBase();
  p.mask_bits[0] ^= 0x01;  // a row with 49 or 51 adapters selected
  EXPECT_THROW(EncodeProfile(p), EngineError);
  p = XpeftHardBase();
  p.head_bias.pop_back();
  EXPECT_THROW(EncodeProfile(p), EngineError);
  p = XpeftHardBase();
  p.backbone_fingerprint = "xyz";
  EXPECT_THROW(EncodeProfile(p), EngineError);
  p = XpeftHardBase();
  p.method = Method::kHeadOnly;  // a head-only profile carrying masks
  p.bank_fingerprint.clear();
  EXPECT_THROW(EncodeProfile(p), EngineError);
}

TEST(ProfileCodecTest, CorruptionIsDetected) {
  const std::string good = EncodeProfile(XpeftHardBase());
  for (size_t i = 0; i < good.size(); i += 7) {
    std::string bad = good;
    bad[i] = char(bad[i] ^ 0x20);
    EXPECT_THROW(DecodeProfile(bad), EngineError) << "flip at byte " << i;
  }
  for (size_t n : {size_t(0), size_t(3), size_t(6), good.size() / 2, good.size() - 1}) {
    EXPECT_THROW(DecodeProfile(good.substr(0, n)), EngineError) << "truncated to " << n;
  }
}

TEST(ProfileCodecTest, UnknownVersionAndMagicAreNamed) {
  std::string bytes = EncodeProfile(XpeftHardBase());
  std::string future = bytes;
  future[4] = 9;
  try {
    DecodeProfile(future);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("format version 9"), std::string::npos);
  }
  try {
    DecodeProfile("JUNKJUNKJUNK");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos);
  }
}

// Every corrupted or truncated payload is refused as DATA_LOSS (the
// checksum covers every byte), never decoded into a wrong profile, never a
// crash or another exception.
TEST(ProfileCodecTest, RefusesEveryRandomMutationAsDataLoss) {
  for (const ProfileData& profile : {XpeftHardBase(), WithInt8Head(XpeftHardBase())}) {
    const std::string good = EncodeProfile(profile);
    ASSERT_EQ(EncodeProfile(DecodeProfile(good)), good);
    std::mt19937 rng(7);
    int refused = 0;
    for (int round = 0; round < 2000; ++round) {
      std::string bytes = good;
      for (int f = 0; f < 1 + round % 5; ++f) bytes[rng() % bytes.size()] = char(rng());
      if (round % 3 == 0) bytes.resize(rng() % bytes.size());
      if (bytes == good) continue;
      try {
        DecodeProfile(bytes);
        ADD_FAILURE() << "round " << round << ": a corrupted payload decoded";
      } catch (const EngineError& e) {
        EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << "round " << round << ": " << e.what();
        ++refused;
      }
    }
    EXPECT_GT(refused, 1900);
  }
}

TEST(BitPackingTest, RoundTripsAndPadsWithZeros) {
  std::vector<uint8_t> mask = {1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1};
  std::vector<uint8_t> packed = PackBitRows(mask.data(), 1, mask.size());
  ASSERT_EQ(packed.size(), 3u);
  EXPECT_EQ(packed[0], 0x8d);
  EXPECT_EQ(packed[2] >> 3, 0);
  EXPECT_EQ(UnpackBitRows(packed.data(), 1, mask.size()), mask);
  EXPECT_EQ(CountSetBits(packed), 8u);
}

TEST(Fp16Test, ConvertsExactlyAndRoundsToNearestEven) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(v)), v) << v;
  }
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);                           // overflow -> inf
  EXPECT_EQ(HalfToFloat(FloatToHalf(1.0f + 1.0f / 4096)), 1.0f);  // tie -> even
  EXPECT_NE(HalfToFloat(FloatToHalf(std::nanf(""))), HalfToFloat(FloatToHalf(std::nanf(""))));
}

}  // namespace
}  // namespace maskserve
