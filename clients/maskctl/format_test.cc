#include "clients/maskctl/format.h"

#include <gtest/gtest.h>

namespace maskserve {
namespace maskctl {
namespace {

TEST(ParseMethodTest, AcceptsSpellingsAndListsValidNames) {
  EXPECT_EQ(*ParseMethod("XPEFT_HARD"), v1::XPEFT_HARD);
  EXPECT_EQ(*ParseMethod("head-only"), v1::HEAD_ONLY);
  EXPECT_EQ(*ParseMethod("propetl_hybrid"), v1::PROPETL_HYBRID);
  absl::StatusOr<v1::Method> bad = ParseMethod("LORA");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ADAPTER"), std::string::npos);
  EXPECT_FALSE(ParseMethod("METHOD_UNSPECIFIED").ok());
}

TEST(ParseHeadPrecisionTest, AcceptsShortAndFullNames) {
  EXPECT_EQ(*ParseHeadPrecision("int8"), v1::HEAD_PRECISION_INT8);
  EXPECT_EQ(*ParseHeadPrecision("FP16"), v1::HEAD_PRECISION_FP16);
  EXPECT_EQ(*ParseHeadPrecision("HEAD_PRECISION_INT8"), v1::HEAD_PRECISION_INT8);
  EXPECT_EQ(*ParseHeadPrecision(""), v1::HEAD_PRECISION_UNSPECIFIED);
  absl::StatusOr<v1::HeadPrecision> bad = ParseHeadPrecision("int4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("head_precision"), std::string::npos);
  EXPECT_NE(bad.status().message().find("int8"), std::string::npos);
  EXPECT_FALSE(ParseHeadPrecision("unspecified").ok());
}

TEST(ParseJobStatesTest, ParsesLists) {
  auto states = ParseJobStates("running, queued");
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(*states, (std::vector<v1::JobState>{v1::RUNNING, v1::QUEUED}));
  EXPECT_TRUE(ParseJobStates("")->empty());
  EXPECT_FALSE(ParseJobStates("DONE").ok());
}

TEST(JobProgressLineTest, ShowsWhatIsKnown) {
  v1::TrainingJob job;
  job.set_state(v1::QUEUED);
  EXPECT_EQ(JobProgressLine(job), "QUEUED");
  job.set_state(v1::RUNNING);
  job.set_epoch(3);
  job.set_total_epochs(20);
  job.set_step(12);
  job.set_total_steps(80);
  job.set_train_loss(0.69314f);
  EXPECT_EQ(JobProgressLine(job), "RUNNING  epoch 3/20  step 12/80  loss 0.6931");
  job.mutable_validation()->set_num_examples(10);
  job.mutable_validation()->set_accuracy(0.75f);
  job.mutable_best_validation()->set_num_examples(10);
  job.mutable_best_validation()->set_accuracy(0.8f);
  EXPECT_EQ(JobProgressLine(job),
            "RUNNING  epoch 3/20  step 12/80  loss 0.6931  val_acc 0.7500  best 0.8000");
  job.set_state(v1::FAILED);
  job.set_error("out of memory");
  EXPECT_NE(JobProgressLine(job).find("error: out of memory"), std::string::npos);
}

TEST(FormatTableTest, PadsColumns) {
  EXPECT_EQ(FormatTable({{"A", "BB", "C"}, {"long", "x", "y"}}), "A     BB  C\nlong  x   y\n");
}

TEST(FormatTimestampTest, FormatsUtcOrDash) {
  google::protobuf::Timestamp t;
  EXPECT_EQ(FormatTimestamp(t), "-");
  t.set_seconds(1700000000);
  EXPECT_EQ(FormatTimestamp(t), "2023-11-14 22:13:20Z");
}

TEST(ProfileDetailsTest, ListsTheFields) {
  v1::Profile profile;
  profile.set_profile_id("p1");
  profile.set_version(3);
  profile.set_method(v1::XPEFT_HARD);
  profile.add_label_names("neg");
  profile.add_label_names("pos");
  profile.mutable_size()->set_mask_bytes(312);
  profile.mutable_size()->set_total_bytes(900);
  const std::string text = ProfileDetails(profile);
  EXPECT_NE(text.find("profile       p1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("version       3\n"), std::string::npos);
  EXPECT_NE(text.find("labels        neg, pos\n"), std::string::npos);
  EXPECT_NE(text.find("masks 312 B"), std::string::npos);
  EXPECT_NE(text.find("shared_head   -\n"), std::string::npos) << text;
  profile.set_shared_head("sentiment");
  EXPECT_NE(ProfileDetails(profile).find("shared_head   sentiment\n"), std::string::npos);
}

}  // namespace
}  // namespace maskctl
}  // namespace maskserve
