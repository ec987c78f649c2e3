#include "core/base/sha256.h"

#include <string>

#include <gtest/gtest.h>

namespace maskserve {
namespace {

std::string Hex(std::string_view text) {
  Sha256 h;
  h.Update(text);
  return h.HexDigest();
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(i * 7919);
  Sha256 pieces;
  for (size_t i = 0; i < text.size(); i += 37) pieces.Update(text.substr(i, 37));
  EXPECT_EQ(pieces.HexDigest(), Hex(text));
}

}  // namespace
}  // namespace maskserve
