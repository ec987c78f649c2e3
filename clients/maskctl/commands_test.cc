// Runs maskctl's commands in-process against the fake server over a real
// loopback gRPC channel.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "clients/maskctl/commands.h"
#include "clients/testing/fake_maskserve_service.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace maskctl {
namespace {

using ::maskserve::testing::FakeMaskserveService;
using ::maskserve::testing::FakeServer;

// The outcome of one command.
struct Result {
  int code;
  std::string out;
  std::string err;
};

class CommandsTest : public ::testing::Test {
 protected:
  void StartServer(FakeMaskserveService::Options options = {}) {
    auto server = FakeServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    options_.connection.address = server_->address();
    options_.connection.timeout = absl::Seconds(5);
    options_.watch_timeout = absl::Seconds(30);
    options_.train.method = v1::HEAD_ONLY;
  }

  void SetUp() override { StartServer(); }

  Result Run(const std::string& command, std::vector<std::string> args,
             const std::string& stdin_text = "") {
    auto channel = client::MakeChannel(options_.connection);
    EXPECT_TRUE(channel.ok()) << channel.status();
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    CommandContext ctx;
    ctx.options = options_;
    ctx.channel = *channel;
    ctx.args = std::move(args);
    ctx.in = &in;
    ctx.out = &out;
    ctx.err = &err;
    const int code = RunCommand(command, ctx);
    return {code, out.str(), err.str()};
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    files_.push_back(path);
    return path;
  }

  // Trains `profile_id` on two labelled texts and waits for it.
  void Train(const std::string& profile_id) {
    const std::string csv =
        WriteFile(profile_id + ".csv", "text,label\nwonderful film,pos\nterrible plot,neg\n");
    TrainOptions saved = options_.train;
    options_.train.wait = true;
    Result r = Run("train", {profile_id, csv});
    options_.train = saved;
    ASSERT_EQ(r.code, kExitOk) << r.err;
  }

  void TearDown() override {
    for (const std::string& path : files_) std::remove(path.c_str());
  }

  CliOptions options_;
  std::unique_ptr<FakeServer> server_;
  std::vector<std::string> files_;
};

TEST_F(CommandsTest, HealthAndInfo) {
  Result health = Run("health", {});
  EXPECT_EQ(health.code, kExitOk);
  EXPECT_EQ(health.out, "SERVING\n");
  Result info = Run("info", {});
  EXPECT_EQ(info.code, kExitOk);
  EXPECT_NE(info.out.find("fake-bert"), std::string::npos) << info.out;
  options_.json = true;
  Result json = Run("info", {});
  EXPECT_NE(json.out.find("\"server_version\": \"fake\""), std::string::npos) << json.out;
}

TEST_F(CommandsTest, TrainWaitThenPredictGetsTheTrainedLabels) {
  const std::string csv =
      WriteFile("train.csv", "text,label\n\"great, fun movie\",pos\nboring,neg\nloved it,pos\n");
  options_.train.wait = true;
  Result train = Run("train", {"movies", csv});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  std::vector<std::string> lines = absl::StrSplit(train.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u) << train.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "job-")) << lines[0];
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], "QUEUED") || absl::StartsWith(lines[i], "RUNNING"))
        << lines[i];
  }
  EXPECT_TRUE(absl::StartsWith(lines.back(), "SUCCEEDED")) << lines.back();
  EXPECT_TRUE(absl::StrContains(lines.back(), "version 1")) << lines.back();

  Result predict = Run("predict", {"movies", "great, fun movie", "boring"});
  ASSERT_EQ(predict.code, kExitOk) << predict.err;
  EXPECT_EQ(predict.out, "pos\t0.9000\tgreat, fun movie\nneg\t0.9000\tboring\n");

  Result get = Run("get", {"movies"});
  ASSERT_EQ(get.code, kExitOk);
  EXPECT_TRUE(absl::StrContains(get.out, "labels        pos, neg\n")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "method        HEAD_ONLY\n")) << get.out;
}

TEST_F(CommandsTest, WatchPrintsProgressLines) {
  server_.reset();
  FakeMaskserveService::Options slow;
  slow.step_delay = absl::Milliseconds(500);
  StartServer(slow);
  const std::string csv = WriteFile("progress.csv", "text,label\na,x\nb,y\n");
  options_.train.hyper_parameters.set_epochs(2);
  options_.train.wait = true;
  Result train = Run("train", {"progress", csv});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  // The epoch-1 state holds from 500 to 1000 ms; the watch connects long
  // before. (Changes close together may be coalesced into one message.)
  EXPECT_TRUE(absl::StrContains(train.out, "\nRUNNING  epoch 1/2  step 1/2  loss 0.5000"))
      << train.out;
  EXPECT_TRUE(absl::StrContains(train.out, "\nSUCCEEDED  epoch 2/2  step 2/2")) << train.out;
}

TEST_F(CommandsTest, TrainUsesGivenLabelOrderAndHyperParameters) {
  const std::string jsonl = WriteFile(
      "train.jsonl", "{\"text\":\"a\",\"label\":\"pos\"}\n{\"text\":\"b\",\"label\":\"neg\"}\n");
  options_.train.labels = {"neg", "pos"};
  options_.train.hyper_parameters.set_epochs(1);
  options_.train.wait = true;
  options_.json = true;
  Result train = Run("train", {"ordered", jsonl});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  // JSON mode: one compact JSON object per line (response, then job updates).
  std::vector<std::string> lines = absl::StrSplit(train.out, '\n', absl::SkipEmpty());
  EXPECT_TRUE(absl::StartsWith(lines[0], "{\"job_id\":\"job-")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines.back(), "\"state\":\"SUCCEEDED\"")) << lines.back();
  EXPECT_TRUE(absl::StrContains(lines.back(), "\"total_epochs\":1")) << lines.back();
  Result get = Run("get", {"ordered"});
  EXPECT_TRUE(absl::StrContains(get.out, "\"label_names\": [\n  \"neg\",\n  \"pos\"\n ]"))
      << get.out;
}

TEST_F(CommandsTest, TrainWithASharedHeadTakesItsLabels) {
  Result info = Run("info", {});
  EXPECT_TRUE(absl::StrContains(info.out, "shared_head sentiment: labels neg,pos fingerprint "))
      << info.out;

  // Examples in pos-first order: without --labels, the head's order wins.
  const std::string csv = WriteFile("shared.csv", "text,label\nlovely,pos\nawful,neg\n");
  options_.train.method = v1::XPEFT_HARD;
  options_.train.shared_head = "sentiment";
  options_.train.wait = true;
  Result train = Run("train", {"warm", csv});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  Result get = Run("get", {"warm"});
  EXPECT_TRUE(absl::StrContains(get.out, "labels        neg, pos\n")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, ", head 0 B,")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "shared_head   sentiment\n")) << get.out;

  // A single label is fine too: the head brings the label set.
  const std::string one_label = WriteFile("shared-one.csv", "text,label\nlovely,pos\n");
  EXPECT_EQ(Run("train", {"warm-one", one_label}).code, kExitOk);

  options_.train.shared_head = "nope";
  Result unknown = Run("train", {"warm-2", csv});
  EXPECT_EQ(unknown.code, kExitRpcError);
  EXPECT_TRUE(
      absl::StrContains(unknown.err, "INVALID_ARGUMENT: shared_head: no shared head 'nope'"))
      << unknown.err;

  options_.train.shared_head = "sentiment";
  options_.train.labels = {"pos", "neg"};
  Result reordered = Run("train", {"warm-3", csv});
  EXPECT_EQ(reordered.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(reordered.err, "INVALID_ARGUMENT: label_names:")) << reordered.err;
}

TEST_F(CommandsTest, TrainRefusesBadInputLocallyWithExit2) {
  const std::string one_label = WriteFile("one.csv", "text,label\na,pos\nb,pos\n");
  Result r = Run("train", {"p", one_label});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "only the label 'pos'")) << r.err;

  const std::string csv = WriteFile("two.csv", "text,label\na,pos\nb,meh\n");
  options_.train.labels = {"neg", "pos"};
  r = Run("train", {"p", csv});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "line 3: label 'meh' is not in --labels")) << r.err;

  r = Run("train", {"p", ::testing::TempDir() + "/does-not-exist.csv"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "cannot read")) << r.err;
}

TEST_F(CommandsTest, ServerRejectionIsReportedWithCode) {
  const std::string csv = WriteFile("bad_id.csv", "text,label\na,x\nb,y\n");
  Result r = Run("train", {"bad id!", csv});
  EXPECT_EQ(r.code, kExitRpcError);
  EXPECT_TRUE(absl::StartsWith(r.err, "maskctl: train failed: INVALID_ARGUMENT: profile_id:"))
      << r.err;
}

TEST_F(CommandsTest, WatchExitsOneWhenTheJobFails) {
  const std::string csv = WriteFile("fail.csv", "text,label\nFAIL,x\nb,y\n");
  Result train = Run("train", {"doomed", csv});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  const std::string job_id(absl::StripAsciiWhitespace(train.out));
  Result watch = Run("watch", {job_id});
  EXPECT_EQ(watch.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(watch.out, "FAILED")) << watch.out;
  EXPECT_TRUE(absl::StrContains(watch.err, "job " + job_id + " FAILED: training diverged"))
      << watch.err;
}

TEST_F(CommandsTest, CancelQueuedJobAndListJobs) {
  server_.reset();
  FakeMaskserveService::Options slow;
  slow.step_delay = absl::Milliseconds(200);
  StartServer(slow);
  const std::string csv = WriteFile("slow.csv", "text,label\na,x\nb,y\n");
  Result first = Run("train", {"slow1", csv});
  Result second = Run("train", {"slow2", csv});
  ASSERT_EQ(second.code, kExitOk) << second.err;
  const std::string job_id(absl::StripAsciiWhitespace(second.out));

  Result cancel = Run("cancel", {job_id});
  ASSERT_EQ(cancel.code, kExitOk) << cancel.err;
  EXPECT_TRUE(absl::StrContains(cancel.out, job_id + "  CANCELLED")) << cancel.out;
  Result again = Run("cancel", {job_id});
  EXPECT_EQ(again.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(again.err, "cancel failed: FAILED_PRECONDITION")) << again.err;
  Result watch = Run("watch", {job_id});
  EXPECT_EQ(watch.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(watch.err, "CANCELLED")) << watch.err;

  options_.list.page_size = 1;  // forces paging
  Result jobs = Run("jobs", {});
  ASSERT_EQ(jobs.code, kExitOk) << jobs.err;
  EXPECT_TRUE(absl::StrContains(jobs.out, "2 jobs")) << jobs.out;
  // Newest first.
  EXPECT_LT(jobs.out.find("slow2"), jobs.out.find("slow1")) << jobs.out;
  options_.list.states = {v1::CANCELLED};
  jobs = Run("jobs", {});
  EXPECT_TRUE(absl::StrContains(jobs.out, "1 job\n")) << jobs.out;
  EXPECT_FALSE(absl::StrContains(jobs.out, "slow1")) << jobs.out;
}

TEST_F(CommandsTest, ListFollowsPageTokens) {
  Train("p-a");
  Train("p-b");
  Train("p-c");
  options_.list.page_size = 2;
  Result list = Run("list", {});
  ASSERT_EQ(list.code, kExitOk) << list.err;
  EXPECT_TRUE(absl::StartsWith(list.out, "PROFILE")) << list.out;
  EXPECT_TRUE(absl::StrContains(list.out, "p-a")) << list.out;
  EXPECT_TRUE(absl::StrContains(list.out, "p-c")) << list.out;
  EXPECT_TRUE(absl::StrContains(list.out, "3 profiles\n")) << list.out;
  options_.json = true;
  list = Run("list", {});
  EXPECT_TRUE(absl::StrContains(list.out, "\"total_count\": \"3\"")) << list.out;
}

TEST_F(CommandsTest, ExportDeleteImportRoundTrip) {
  Train("roundtrip");
  const std::string path = ::testing::TempDir() + "/roundtrip.profile";
  files_.push_back(path);
  Result exported = Run("export", {"roundtrip", path});
  ASSERT_EQ(exported.code, kExitOk) << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, "exported roundtrip version 1")) << exported.out;

  Result deleted = Run("delete", {"roundtrip"});
  ASSERT_EQ(deleted.code, kExitOk) << deleted.err;
  EXPECT_EQ(deleted.out, "deleted roundtrip version 1\n");
  Result gone = Run("get", {"roundtrip"});
  EXPECT_EQ(gone.code, kExitRpcError);
  EXPECT_EQ(gone.err, "maskctl: get failed: NOT_FOUND: profile 'roundtrip' not found\n");

  Result imported = Run("import", {"roundtrip", path});
  ASSERT_EQ(imported.code, kExitOk) << imported.err;
  EXPECT_TRUE(absl::StrContains(imported.out, "imported roundtrip version 1")) << imported.out;
  Result predict = Run("predict", {"roundtrip", "wonderful film"});
  EXPECT_EQ(predict.out, "pos\t0.9000\twonderful film\n");

  Result exists = Run("import", {"roundtrip", path});
  EXPECT_EQ(exists.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(exists.err, "import failed: ALREADY_EXISTS")) << exists.err;
  options_.overwrite = true;
  Result overwritten = Run("import", {"roundtrip", path});
  ASSERT_EQ(overwritten.code, kExitOk) << overwritten.err;
  EXPECT_TRUE(absl::StrContains(overwritten.out, "version 2")) << overwritten.out;

  options_.expected_version = 1;
  Result stale = Run("delete", {"roundtrip"});
  EXPECT_EQ(stale.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(stale.err, "FAILED_PRECONDITION")) << stale.err;

  Result unwritable = Run("export", {"roundtrip", "/nonexistent-dir/x.profile"});
  EXPECT_EQ(unwritable.code, kExitOutputError);
}

TEST_F(CommandsTest, ExportAndImportThroughStdio) {
  Train("stdio");
  Result exported = Run("export", {"stdio", "-"});
  ASSERT_EQ(exported.code, kExitOk);
  ASSERT_FALSE(exported.out.empty());
  Result imported = Run("import", {"stdio-copy", "-"}, exported.out);
  ASSERT_EQ(imported.code, kExitOk) << imported.err;
  Result empty = Run("import", {"x", "-"}, "");
  EXPECT_EQ(empty.code, kExitUsage);
}

TEST_F(CommandsTest, PredictReadsStdinLinesInChunksWithTopK) {
  Train("chunks");
  options_.predict.inputs_per_call = 2;
  options_.predict.top_k = 2;
  Result r = Run("predict", {"chunks"}, "wonderful film\n\nterrible plot\r\nsomething else\n");
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], "pos\t0.9000\tpos=0.9000 neg=0.1000\twonderful film");
  EXPECT_EQ(lines[1], "neg\t0.9000\tneg=0.9000 pos=0.1000\tterrible plot");
  options_.json = true;
  r = Run("predict", {"chunks"}, "a\nb\nc\n");
  lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.out;  // two calls, one JSON line each
  EXPECT_TRUE(absl::StrContains(lines[0], "\"profile_version\":\"1\"")) << lines[0];

  Result none = Run("predict", {"chunks"}, "\n\n");
  EXPECT_EQ(none.code, kExitUsage);
  Result latin1 = Run("predict", {"chunks"}, "fine\ncaf\xe9\n");
  EXPECT_EQ(latin1.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(latin1.err, "<stdin>: line 2: invalid UTF-8 at byte 3"))
      << latin1.err;
  Result missing = Run("predict", {"nope", "hi"});
  EXPECT_EQ(missing.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(missing.err, "predict failed: NOT_FOUND")) << missing.err;
}

TEST_F(CommandsTest, PredictSplitsPairsAtTabs) {
  Train("pairs");
  options_.predict.pairs = true;
  Result r = Run("predict", {"pairs", "premise\thypothesis"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_TRUE(absl::EndsWith(r.out, "\tpremise\thypothesis\n")) << r.out;
}

TEST_F(CommandsTest, TrainWaitPlainProgressIsRateLimited) {
  server_.reset();
  FakeMaskserveService::Options slow;
  slow.step_delay = absl::Milliseconds(150);
  StartServer(slow);
  const std::string csv = WriteFile("plain.csv", "text,label\na,x\nb,y\n");
  options_.train.hyper_parameters.set_epochs(2);
  options_.train.hyper_parameters.set_batch_size(1);  // 2 steps per epoch, 4 in all
  options_.train.wait = true;
  options_.progress = ProgressMode::kPlain;
  Result train = Run("train", {"plain", csv});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  EXPECT_EQ(train.out.find('\r'), std::string::npos) << train.out;
  std::vector<std::string> lines = absl::StrSplit(train.out, '\n', absl::SkipEmpty());
  // The whole job takes well under a second or two: the first RUNNING line,
  // then at most one more (new epochs are rate-limited too), then the end.
  int epoch1 = 0, epoch2 = 0;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "RUNNING  epoch 1/2  step ")) ++epoch1;
    if (absl::StartsWith(line, "RUNNING  epoch 2/2  step ")) ++epoch2;
    if (absl::StartsWith(line, "RUNNING  epoch ")) {
      EXPECT_TRUE(absl::StrContains(line, "  eta 0:0")) << line;
    }
  }
  EXPECT_EQ(epoch1, 1) << train.out;
  EXPECT_LE(epoch2, 1) << train.out;
  EXPECT_TRUE(absl::StartsWith(lines.back(), "SUCCEEDED  epoch 2/2  step 4/4  loss ")) << train.out;
  EXPECT_TRUE(absl::StrContains(lines.back(), "  version 1  took 0:0")) << lines.back();
}

TEST_F(CommandsTest, TrainWaitBarAndNone) {
  server_.reset();
  FakeMaskserveService::Options slow;
  slow.step_delay = absl::Milliseconds(300);
  StartServer(slow);
  const std::string csv = WriteFile("bar.csv", "text,label\na,x\nb,y\n");
  options_.train.hyper_parameters.set_epochs(2);
  options_.train.wait = true;
  options_.progress = ProgressMode::kBar;
  Result bar = Run("train", {"bar", csv});
  ASSERT_EQ(bar.code, kExitOk) << bar.err;
  // The job id, then one line redrawn in place, kept when done.
  std::vector<std::string> lines = absl::StrSplit(bar.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << bar.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "job-")) << bar.out;
  EXPECT_TRUE(absl::StrContains(lines[1], "\rRUNNING  epoch 1/2  step 1/2  [")) << bar.out;
  EXPECT_TRUE(absl::StrContains(lines[1], "%  loss 0.5000")) << bar.out;
  EXPECT_TRUE(absl::EndsWith(bar.out,
                             "\r\033[KSUCCEEDED  epoch 2/2  step 2/2  loss 0.3333  "
                             "val_acc 1.0000  best 1.0000  version 1  took 0:00\n"))
      << bar.out;

  options_.progress = ProgressMode::kNone;
  Result none = Run("train", {"none", csv});
  ASSERT_EQ(none.code, kExitOk) << none.err;
  lines = absl::StrSplit(none.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << none.out;
  EXPECT_TRUE(absl::StartsWith(lines[1], "SUCCEEDED  epoch 2/2")) << none.out;
}

TEST_F(CommandsTest, PredictFileToCsvAndJsonl) {
  Train("files");  // pos: "wonderful film", neg: "terrible plot"
  const std::string texts =
      WriteFile("texts.txt", "wonderful film\n\nterrible plot\r\n\"quoted\", with comma\n");
  options_.predict.input = texts;
  options_.predict.output_format = OutputFormat::kCsv;
  Result csv = Run("predict", {"files"});
  ASSERT_EQ(csv.code, kExitOk) << csv.err;
  std::vector<std::string> lines = absl::StrSplit(csv.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << csv.out;
  EXPECT_EQ(lines[0], "id,text,label,probability,p_pos,p_neg");
  EXPECT_EQ(lines[1], "1,wonderful film,pos,0.9,0.9,0.1");
  EXPECT_EQ(lines[2], "3,terrible plot,neg,0.9,0.1,0.9");  // ids are line numbers
  EXPECT_TRUE(absl::StartsWith(lines[3], "4,\"\"\"quoted\"\", with comma\",")) << lines[3];

  const std::string jsonl = WriteFile(
      "texts.jsonl",
      "{\"id\": \"a\", \"text\": \"terrible plot\"}\n{\"id\": 12, \"text\": \"wonderful film\"}\n");
  const std::string out_path = ::testing::TempDir() + "/predictions.jsonl";
  files_.push_back(out_path);
  options_.predict.input = jsonl;
  options_.predict.output_format = OutputFormat::kJsonl;
  options_.predict.output = out_path;
  Result to_file = Run("predict", {"files"});
  ASSERT_EQ(to_file.code, kExitOk) << to_file.err;
  EXPECT_EQ(to_file.out, "");
  std::ifstream in(out_path);
  std::stringstream written;
  written << in.rdbuf();
  EXPECT_EQ(written.str(),
            "{\"id\":\"a\",\"label\":\"neg\",\"probability\":0.9,"
            "\"probabilities\":{\"pos\":0.1,\"neg\":0.9}}\n"
            "{\"id\":12,\"label\":\"pos\",\"probability\":0.9,"
            "\"probabilities\":{\"pos\":0.9,\"neg\":0.1}}\n");

  // stdin, JSONL detected from the first character, the table as always.
  options_.predict.input = "-";
  options_.predict.output_format = OutputFormat::kTable;
  options_.predict.output.clear();
  Result table = Run("predict", {"files"}, "\n{\"text\": \"wonderful film\"}\n");
  ASSERT_EQ(table.code, kExitOk) << table.err;
  EXPECT_EQ(table.out, "pos\t0.9000\twonderful film\n");
}

TEST_F(CommandsTest, PredictFileInBatchesWithinTheServerLimit) {
  Train("batches");
  std::string content;
  for (int i = 0; i < 600; ++i) content += "text number " + std::to_string(i) + "\n";
  const std::string path = WriteFile("600.txt", content);
  options_.predict.input = path;
  options_.predict.inputs_per_call = 1000;  // the fake takes at most 256 per request
  options_.json = true;                     // one raw response per request
  Result r = Run("predict", {"batches"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 3u);  // 256 + 256 + 88
  options_.json = false;
  options_.predict.inputs_per_call = 7;
  options_.predict.output_format = OutputFormat::kCsv;
  r = Run("predict", {"batches"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 601u);
  EXPECT_TRUE(absl::StartsWith(lines[600], "600,text number 599,")) << lines[600];
}

TEST_F(CommandsTest, PredictBadInputFailsBeforeAnyOutput) {
  Train("bad-input");
  options_.predict.input = WriteFile(
      "bad.jsonl", "{\"text\": \"fine\"}\n\n{\"txt\": \"oops\"}\n{\"text\": \"later\"}\n");
  options_.predict.output_format = OutputFormat::kJsonl;
  Result r = Run("predict", {"bad-input"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(absl::EndsWith(r.err, "bad.jsonl: line 3: missing key 'text'\n")) << r.err;

  options_.predict.input = WriteFile("long.txt", "short\n" + std::string(20000, 'x') + "\n");
  r = Run("predict", {"bad-input"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err,
                                "long.txt: line 2: text of 20000 bytes; the server takes "
                                "at most 16384 (max_text_bytes)"))
      << r.err;

  options_.predict.input = ::testing::TempDir() + "/no-such-texts.txt";
  r = Run("predict", {"bad-input"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "cannot read")) << r.err;

  options_.predict.input = WriteFile("ok.txt", "fine\n");
  r = Run("predict", {"bad-input", "an argument too"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "not both")) << r.err;
  options_.json = true;
  r = Run("predict", {"bad-input"});
  EXPECT_EQ(r.code, kExitUsage);
  options_.json = false;
  options_.predict.output = "/nonexistent-dir/out.jsonl";
  r = Run("predict", {"bad-input"});
  EXPECT_EQ(r.code, kExitOutputError);
  EXPECT_TRUE(absl::StrContains(r.err, "cannot write '/nonexistent-dir/out.jsonl'")) << r.err;
}

TEST_F(CommandsTest, ApiKeyIsSentAsBearerMetadata) {
  server_.reset();
  FakeMaskserveService::Options secured;
  secured.api_keys = {"key-1"};
  StartServer(secured);
  Result anonymous = Run("info", {});
  EXPECT_EQ(anonymous.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(anonymous.err, "info failed: UNAUTHENTICATED")) << anonymous.err;
  options_.connection.api_key = "wrong";
  EXPECT_TRUE(
      absl::StrContains(Run("info", {}).err, "UNAUTHENTICATED: authorization: unknown api key"));
  options_.connection.api_key = "key-1";
  EXPECT_EQ(Run("info", {}).code, kExitOk);
}

// The fake with require_routing_header refuses calls that carry the
// `x-maskserve-profile` header where they should not, or lack it where they
// should (so that RoutingHeaderIsSentExactlyOnProfileScopedCalls proves
// something).
TEST_F(CommandsTest, FakeRefusesMisroutedCalls) {
  server_.reset();
  FakeMaskserveService::Options routed;
  routed.require_routing_header = true;
  StartServer(routed);
  auto channel = client::MakeChannel(options_.connection);
  ASSERT_TRUE(channel.ok());
  auto stub = v1::Maskserve::NewStub(*channel);
  auto get = [&](const std::string& header) {
    grpc::ClientContext context;
    if (!header.empty()) context.AddMetadata(client::kProfileRoutingHeader, header);
    v1::GetProfileRequest request;
    request.set_profile_id("alice");
    v1::Profile profile;
    return stub->GetProfile(&context, request, &profile);
  };
  grpc::Status missing = get("");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(missing.error_message(), "x-maskserve-profile: missing"))
      << missing.error_message();
  grpc::Status other = get("bob");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(other.error_message(),
            "x-maskserve-profile: 'bob' differs from the profile_id 'alice' of GetProfile");
  EXPECT_EQ(get("alice").error_code(), grpc::StatusCode::NOT_FOUND);  // routed right

  grpc::ClientContext info_context;
  ASSERT_TRUE(client::SetProfileRoutingHeader("alice", &info_context));
  v1::ModelInfo info;
  grpc::Status info_status = stub->GetModelInfo(&info_context, v1::GetModelInfoRequest(), &info);
  EXPECT_EQ(info_status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(info_status.error_message(), "x-maskserve-profile"))
      << info_status.error_message();

  grpc::ClientContext jobs_context;
  ASSERT_TRUE(client::SetProfileRoutingHeader("alice", &jobs_context));
  v1::ListTrainingJobsResponse jobs;
  EXPECT_EQ(
      stub->ListTrainingJobs(&jobs_context, v1::ListTrainingJobsRequest(), &jobs).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);  // no profile filter

  auto health = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext health_context;
  ASSERT_TRUE(client::SetProfileRoutingHeader("alice", &health_context));
  grpc::health::v1::HealthCheckResponse serving;
  EXPECT_EQ(
      health->Check(&health_context, grpc::health::v1::HealthCheckRequest(), &serving).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  // Ids that are not valid are never sent: such calls fail their own check.
  grpc::ClientContext bad_context;
  EXPECT_FALSE(client::SetProfileRoutingHeader("bad id!", &bad_context));
  EXPECT_FALSE(client::SetProfileRoutingHeader("", &bad_context));
  EXPECT_FALSE(client::SetProfileRoutingHeader(".hidden", &bad_context));
  EXPECT_FALSE(client::SetProfileRoutingHeader(std::string(129, 'a'), &bad_context));
  EXPECT_TRUE(client::IsValidProfileId("A-z_0.9:x@y"));
  EXPECT_TRUE(client::IsValidProfileId(std::string(128, 'a')));
}

// Every command sends `x-maskserve-profile: <profile>` on its profile-scoped
// calls and on no other (the fake checks both).
TEST_F(CommandsTest, RoutingHeaderIsSentExactlyOnProfileScopedCalls) {
  server_.reset();
  FakeMaskserveService::Options routed;
  routed.require_routing_header = true;
  StartServer(routed);
  EXPECT_STREQ(client::kProfileRoutingHeader, "x-maskserve-profile");

  const std::string csv =
      WriteFile("routed.csv", "text,label\nwonderful film,pos\nterrible plot,neg\n");
  options_.train.wait = true;  // TrainProfile, then WatchTrainingJob (by job id)
  Result train = Run("train", {"routed", csv});
  ASSERT_EQ(train.code, kExitOk) << train.err;
  options_.train.wait = false;
  const std::string job_id = train.out.substr(0, train.out.find('\n'));
  EXPECT_TRUE(absl::StartsWith(job_id, "job-")) << train.out;

  Result predict = Run("predict", {"routed", "wonderful film"});
  ASSERT_EQ(predict.code, kExitOk) << predict.err;
  EXPECT_EQ(predict.out, "pos\t0.9000\twonderful film\n");
  // From stdin: GetModelInfo (the limits) without the header, then Predict.
  Result streamed = Run("predict", {"routed"}, "wonderful film\nterrible plot\n");
  ASSERT_EQ(streamed.code, kExitOk) << streamed.err;
  EXPECT_EQ(streamed.out, "pos\t0.9000\twonderful film\nneg\t0.9000\tterrible plot\n");

  Result get = Run("get", {"routed"});
  ASSERT_EQ(get.code, kExitOk) << get.err;
  const std::string path = ::testing::TempDir() + "/routed.profile";
  files_.push_back(path);
  Result exported = Run("export", {"routed", path});
  ASSERT_EQ(exported.code, kExitOk) << exported.err;
  Result imported = Run("import", {"routed-copy", path});
  ASSERT_EQ(imported.code, kExitOk) << imported.err;
  EXPECT_TRUE(absl::StrContains(imported.out, "imported routed-copy version 1")) << imported.out;
  Result deleted = Run("delete", {"routed-copy"});
  ASSERT_EQ(deleted.code, kExitOk) << deleted.err;

  Result jobs = Run("jobs", {"routed"});
  ASSERT_EQ(jobs.code, kExitOk) << jobs.err;
  EXPECT_TRUE(absl::StrContains(jobs.out, job_id)) << jobs.out;
  Result all_jobs = Run("jobs", {});
  ASSERT_EQ(all_jobs.code, kExitOk) << all_jobs.err;
  Result list = Run("list", {});
  ASSERT_EQ(list.code, kExitOk) << list.err;
  EXPECT_TRUE(absl::StrContains(list.out, "1 profile\n")) << list.out;
  Result info = Run("info", {});
  ASSERT_EQ(info.code, kExitOk) << info.err;
  Result health = Run("health", {});
  EXPECT_EQ(health.code, kExitOk) << health.err;
  Result watch = Run("watch", {job_id});
  EXPECT_EQ(watch.code, kExitOk) << watch.err;
  // Cancelling a finished job is refused for its state, not for routing.
  Result cancel = Run("cancel", {job_id});
  EXPECT_EQ(cancel.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(cancel.err, "already SUCCEEDED")) << cancel.err;

  // An invalid id goes without the header and gets the id's own error.
  Result bad = Run("get", {"bad id!"});
  EXPECT_EQ(bad.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(bad.err, "get failed: INVALID_ARGUMENT: profile_id")) << bad.err;

  Result gone = Run("delete", {"routed"});
  ASSERT_EQ(gone.code, kExitOk) << gone.err;
}

TEST_F(CommandsTest, UsageErrorsExitTwo) {
  Result unknown = Run("frobnicate", {});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(unknown.err, "unknown command 'frobnicate'"));
  Result arity = Run("export", {"only-one"});
  EXPECT_EQ(arity.code, kExitUsage);
  EXPECT_EQ(arity.err, "maskctl: usage: maskctl export PROFILE FILE\n");
}

TEST_F(CommandsTest, UnreachableServerIsUnavailable) {
  options_.connection.address = "127.0.0.1:1";
  options_.connection.timeout = absl::Seconds(2);
  Result r = Run("list", {});
  EXPECT_EQ(r.code, kExitRpcError);
  EXPECT_TRUE(absl::StrContains(r.err, "list failed: UNAVAILABLE") ||
              absl::StrContains(r.err, "list failed: DEADLINE_EXCEEDED"))
      << r.err;
}

}  // namespace
}  // namespace maskctl
}  // namespace maskserve
