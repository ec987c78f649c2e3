// File: storage/testing/store_test_util.h
//
// Helpers for tests of ProfileStore implementations: building profiles and
// requests, and gtest matchers for absl::Status codes.
//
//   PublishProfileRequest request = TestPublish("bank-a", "payload");
//   EXPECT_THAT(store->GetProfile("t", "p").status(), StatusIs(absl::StatusCode::kNotFound));
#ifndef MASKSERVE_STORAGE_TESTING_STORE_TEST_UTIL_H_
#define MASKSERVE_STORAGE_TESTING_STORE_TEST_UTIL_H_

#include <gmock/gmock.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/profile_store.h"

namespace maskserve {

inline constexpr char kTestBank[] =
    "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
inline constexpr char kTestBackbone[] =
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";

inline PublishProfileRequest TestPublish(std::string payload, std::string bank = kTestBank) {
  PublishProfileRequest request;
  request.profile.set_method(v1::XPEFT_HARD);
  request.profile.add_label_names("negative");
  request.profile.add_label_names("positive");
  request.profile.set_bank_fingerprint(std::move(bank));
  request.profile.set_description("test profile");
  request.profile.mutable_size()->set_mask_bytes(312);
  request.payload = std::move(payload);
  return request;
}

inline v1::TrainProfileRequest TestTrainRequest(std::string profile_id, int examples = 3) {
  v1::TrainProfileRequest request;
  request.set_profile_id(std::move(profile_id));
  request.set_method(v1::XPEFT_HARD);
  request.add_label_names("negative");
  request.add_label_names("positive");
  for (int i = 0; i < examples; ++i) {
    v1::TrainingExample* example = request.add_examples();
    example->set_text("example " + std::to_string(i));
    example->set_label(i % 2 ? "positive" : "negative");
  }
  return request;
}

namespace internal_status {
inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
}  // namespace internal_status

MATCHER_P(StatusIs, code, "") {
  const absl::Status& status = internal_status::GetStatus(arg);
  if (status.code() == code) return true;
  *result_listener << "status is " << status.ToString();
  return false;
}

MATCHER_P2(StatusIs, code, substring, "") {
  const absl::Status& status = internal_status::GetStatus(arg);
  if (status.code() == code &&
      std::string_view(status.message().data(), status.message().size()).find(substring) !=
          std::string_view::npos) {
    return true;
  }
  *result_listener << "status is " << status.ToString();
  return false;
}

#define ASSERT_OK(expr)                                                    \
  do {                                                                     \
    const absl::Status _s = ::maskserve::internal_status::GetStatus(expr); \
    ASSERT_TRUE(_s.ok()) << _s.ToString();                                 \
  } while (0)

#define EXPECT_OK(expr)                                                    \
  do {                                                                     \
    const absl::Status _s = ::maskserve::internal_status::GetStatus(expr); \
    EXPECT_TRUE(_s.ok()) << _s.ToString();                                 \
  } while (0)

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_STORE_TEST_UTIL_H_
