// File: core/profile/profile_codec.h
//
// The one portable, versioned, self-describing encoding of a profile:
//
//   "MSKP" | u16 format version | records... | u16 0xFFFF, u32 4, u32 crc32
//
// Each record is u16 tag, u32 length, value (little-endian). Unknown tags
// are skipped, so newer writers stay readable. DecodeProfile() never trusts
// its input: bad magic, an unknown format version, a truncated record, a
// checksum mismatch, missing fields and payload sizes that disagree with
// the method and shapes all throw DataLoss (or InvalidArgument for values
// out of range) with a message saying what is wrong. It is fuzzed
// (core/fuzz/profile_codec_fuzzer.cc).
//
//   std::string bytes = EncodeProfile(profile);
//   ProfileData back = DecodeProfile(bytes);            // == profile
//   ProfileBytes size = MeasureProfile(profile);        // masks/head/metadata
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_PROFILE_PROFILE_CODEC_H_
#define MASKSERVE_CORE_PROFILE_PROFILE_CODEC_H_

#include <string>
#include <string_view>

#include "core/profile/profile_data.h"

namespace maskserve {

// The profile payload format this build writes (and the newest it reads).
inline constexpr uint16_t kProfileFormatVersion = 1;

// Checks that `profile`'s payload sizes agree with its method and shapes
// (and, for XPEFT_HARD, that every mask row has exactly top_k ones), and
// that it has exactly one head weight form (fp16, or int8 with finite,
// non-negative scales) or a well-formed shared head reference and no head
// weights. Throws DataLoss naming the field otherwise.
void ValidateProfileData(const ProfileData& profile);

std::string EncodeProfile(const ProfileData& profile);
ProfileData DecodeProfile(std::string_view bytes);

// The encoded size, split into masks (packed masks, soft weights or adapter
// weights), head (head weight, in fp16 or int8 with its per-row scales, and
// bias, plus per-profile LayerNorms; a shared head counts 0) and metadata
// (labels, fingerprints, a shared head reference, shapes, metrics, framing).
ProfileBytes MeasureProfile(const ProfileData& profile);
// The same split when `profile` is already encoded, in `encoded_bytes`
// bytes (no second encoding).
ProfileBytes MeasureProfile(const ProfileData& profile, size_t encoded_bytes);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PROFILE_PROFILE_CODEC_H_
