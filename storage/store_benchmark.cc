// store_benchmark: the profile store at scale (issue 5, SPEC section 9).
//
// Loads --profiles X-PEFT-hard-sized profiles (312 B of bit-packed masks for
// N=100, L=12, plus an fp16 head for 2 classes at d=768: 2*768*2 + 2*2 B,
// random bytes, plus realistic metadata) across --tenants tenants, then
// reports: bulk write rate, full-compaction time, bytes on disk per profile,
// open time, random point-read latency p50/p99 cold (fresh process state,
// empty block cache, O_DIRECT so every miss is a device read), cold data
// (other keys once index and filter blocks are cached: a long-running
// server's cold profile) and warm (block cache), and the rate and latency of synced (acknowledged)
// publishes. One JSON line, then a table. The store directory is deleted at
// the end unless --keep.
//
//   store_benchmark --profiles=1000000
//   store_benchmark --profiles=20000 --reads=5000   # quick
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/tools/benchmark_util.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/rocksdb_tuning.h"
#include "storage/testing/temp_dir.h"

namespace maskserve {
namespace {

constexpr char kUsage[] =
    "store_benchmark [--profiles=1000000] [--tenants=1000] [--threads=2] [--reads=20000]\n"
    "  [--synced_writes=2000] [--block_cache_mb=256] [--dir=PARENT] [--keep]";
constexpr size_t kMaskBytes = 312;                  // 2 * ceil(100/8) * 12
constexpr size_t kHeadBytes = 2 * 768 * 2 + 2 * 2;  // fp16 weight + bias, 2 classes
constexpr char kBank[] = "5f2c0d7a1e9b4c3d8a6f0e1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "store_benchmark: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

std::string TenantOf(int64_t i, int64_t tenants) { return "tenant-" + std::to_string(i % tenants); }
std::string IdOf(int64_t i) { return "profile-" + std::to_string(i); }

PublishProfileRequest MakeProfile(std::mt19937_64& rng) {
  PublishProfileRequest request;
  v1::Profile& p = request.profile;
  p.set_method(v1::XPEFT_HARD);
  p.add_label_names("negative");
  p.add_label_names("positive");
  p.set_bank_fingerprint(kBank);
  p.set_training_job_id("01J9Z3K8Q2M6W0X4T7R5N1B3C8");
  p.mutable_metrics()->set_loss(0.31f);
  p.mutable_metrics()->set_accuracy(0.88f);
  p.mutable_metrics()->set_macro_f1(0.87f);
  p.mutable_metrics()->set_num_examples(50);
  p.mutable_size()->set_mask_bytes(kMaskBytes);
  p.mutable_size()->set_head_bytes(kHeadBytes);
  request.payload.resize(kMaskBytes + kHeadBytes);
  for (size_t i = 0; i + 8 <= request.payload.size(); i += 8) {
    uint64_t r = rng();
    std::memcpy(&request.payload[i], &r, 8);
  }
  return request;
}

uint64_t DiskBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

std::unique_ptr<RocksDbProfileStore> OpenStore(RocksDbProfileStore::Options options) {
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store =
      RocksDbProfileStore::Open(std::move(options));
  if (!store.ok()) Die("open", store.status());
  return *std::move(store);
}

// Runs fn(i) for i in [0, n) on `threads` threads; returns wall seconds.
template <typename Fn>
double Parallel(int64_t n, int threads, Fn fn) {
  std::atomic<int64_t> next{0};
  double start = NowSeconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = next++; i < n; i = next++) fn(t, i);
    });
  }
  for (auto& thread : pool) thread.join();
  return NowSeconds() - start;
}

// Reads `keys` once, returning per-read latencies in microseconds.
std::vector<double> ReadAll(RocksDbProfileStore& store, const std::vector<int64_t>& keys,
                            int64_t tenants) {
  std::vector<double> latencies;
  latencies.reserve(keys.size());
  for (int64_t k : keys) {
    double start = NowSeconds();
    absl::StatusOr<StoredProfile> got = store.GetProfile(TenantOf(k, tenants), IdOf(k));
    latencies.push_back((NowSeconds() - start) * 1e6);
    if (!got.ok()) Die("read", got.status());
    if (got->payload.size() != kMaskBytes + kHeadBytes) Die("read", absl::DataLossError("size"));
  }
  return latencies;
}

int Main(int argc, char** argv) {
  BenchmarkArgs args(argc, argv,
                     {{"profiles", "1000000"},
                      {"tenants", "1000"},
                      {"threads", "2"},
                      {"reads", "20000"},
                      {"synced_writes", "2000"},
                      {"block_cache_mb", "256"},
                      {"dir", ""},
                      {"keep", "false"}},
                     kUsage);
  const int64_t n = args.GetInt("profiles");
  const int64_t tenants = std::max<int64_t>(1, args.GetInt("tenants"));
  const int threads = static_cast<int>(std::max<int64_t>(1, args.GetInt("threads")));
  const int64_t reads = std::min(args.GetInt("reads"), n);
  TempDir temp("maskserve_store_benchmark", args.Get("dir"));
  const std::string data_dir = temp.path() + "/store";

  RocksDbProfileStore::Options options;
  options.data_dir = data_dir;
  options.bank_fingerprints = {kBank};
  options.block_cache_bytes = static_cast<size_t>(args.GetInt("block_cache_mb")) << 20;
  absl::StatusOr<RocksDbTuning> tuning = MakeRocksDbTuning(options);
  if (!tuning.ok()) Die("options", tuning.status());

  // 1. Bulk load (WAL on, no fsync per write: a restore/import-style load).
  options.sync_writes = false;
  std::unique_ptr<RocksDbProfileStore> store = OpenStore(options);
  size_t value_bytes = 0;
  double load_s = Parallel(n, threads, [&](int t, int64_t i) {
    thread_local std::mt19937_64 rng(1234 + t);
    PublishProfileRequest request = MakeProfile(rng);
    if (i == 0) value_bytes = request.payload.size() + request.profile.ByteSizeLong();
    absl::StatusOr<v1::Profile> p = store->PublishProfile(TenantOf(i, tenants), IdOf(i), request);
    if (!p.ok()) Die("publish", p.status());
  });
  double flush_start = NowSeconds();
  if (absl::Status s = store->Flush(); !s.ok()) Die("flush", s);
  if (absl::Status s = store->CompactAll(); !s.ok()) Die("compact", s);
  double compact_s = NowSeconds() - flush_start;
  store.reset();
  const uint64_t disk = DiskBytes(data_dir);

  // 2. Open time, then cold and warm point reads (O_DIRECT: no page cache).
  options.sync_writes = true;
  options.use_direct_reads = true;
  double open_start = NowSeconds();
  store = OpenStore(options);
  double open_ms = (NowSeconds() - open_start) * 1e3;
  std::mt19937_64 rng(99);
  std::vector<int64_t> keys(reads);
  for (int64_t& k : keys) k = static_cast<int64_t>(rng() % n);
  std::vector<double> cold = ReadAll(*store, keys, tenants);
  ReadAll(*store, keys, tenants);  // settle
  std::vector<double> warm = ReadAll(*store, keys, tenants);
  // Cold data blocks only: other keys, now that index and filter blocks are
  // cached (the steady state of a long-running server).
  for (int64_t& k : keys) k = static_cast<int64_t>(rng() % n);
  std::vector<double> cold_data = ReadAll(*store, keys, tenants);

  // 3. Synced publishes (what a client's acknowledged write costs).
  const int64_t synced = std::min(args.GetInt("synced_writes"), n);
  std::vector<std::vector<double>> synced_lat(threads);
  double synced_s = Parallel(synced, threads, [&](int t, int64_t i) {
    thread_local std::mt19937_64 r(777 + t);
    int64_t k = static_cast<int64_t>(r() % n);
    PublishProfileRequest request = MakeProfile(r);
    double start = NowSeconds();
    absl::StatusOr<v1::Profile> p = store->PublishProfile(TenantOf(k, tenants), IdOf(k), request);
    synced_lat[t].push_back((NowSeconds() - start) * 1e6);
    if (!p.ok()) Die("synced publish", p.status());
  });
  std::vector<double> synced_all;
  for (auto& v : synced_lat) synced_all.insert(synced_all.end(), v.begin(), v.end());
  store.reset();

  const double per_profile = static_cast<double>(disk) / static_cast<double>(n);
  std::vector<BenchmarkRow> rows;
  rows.push_back(BenchmarkRow()
                     .Add("profiles", n)
                     .Add("value_bytes", static_cast<int64_t>(value_bytes))
                     .Add("write_per_s", n / load_s, 0)
                     .Add("load_s", load_s, 1)
                     .Add("compact_s", compact_s, 1)
                     .Add("disk_bytes_per_profile", per_profile, 1)
                     .Add("open_ms", open_ms, 1)
                     .Add("cold_p50_us", Percentile(cold, 0.50), 1)
                     .Add("cold_p99_us", Percentile(cold, 0.99), 1)
                     .Add("cold_data_p50_us", Percentile(cold_data, 0.50), 1)
                     .Add("cold_data_p99_us", Percentile(cold_data, 0.99), 1)
                     .Add("warm_p50_us", Percentile(warm, 0.50), 1)
                     .Add("warm_p99_us", Percentile(warm, 0.99), 1)
                     .Add("synced_write_per_s", synced / synced_s, 0)
                     .Add("synced_p50_us", Percentile(synced_all, 0.50), 0)
                     .Add("synced_p99_us", Percentile(synced_all, 0.99), 0));
  PrintBenchmarkReport(
      "store_benchmark",
      {{"tenants", std::to_string(tenants)},
       {"threads", std::to_string(threads)},
       {"reads", std::to_string(reads)},
       {"payload_bytes", std::to_string(kMaskBytes + kHeadBytes)},
       {"compression", CompressionName(tuning->compression)},
       {"bottommost_compression", CompressionName(tuning->bottommost_compression)},
       {"block_cache_mb", args.Get("block_cache_mb")},
       {"disk_bytes", std::to_string(disk)},
       {"hardware_threads", std::to_string(std::thread::hardware_concurrency())},
       {"bulk_load", "WAL on, sync off; then flush + full compaction"},
       {"cold_reads", "fresh open, empty block cache, O_DIRECT"},
       {"cold_data_reads", "new keys after the cold+warm passes: index/filter cached, data not"}},
      rows);
  if (args.Get("keep") == "true") {
    std::filesystem::rename(temp.path(), temp.path() + ".kept");
    std::printf("kept %s.kept/store\n", temp.path().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) { return maskserve::Main(argc, argv); }
