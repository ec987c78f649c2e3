// File: core/tools/benchmark_util.h
//
// Small helpers shared by the benchmark programs: `--key=value` argument
// parsing and the JSON-line + table report every benchmark prints.
//
// Thread safety: none needed (single-threaded programs).
#ifndef MASKSERVE_CORE_TOOLS_BENCHMARK_UTIL_H_
#define MASKSERVE_CORE_TOOLS_BENCHMARK_UTIL_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace maskserve {

// Parses `--key=value` (and bare `--flag`, meaning "true"); exits with a
// usage message on anything else or on an unknown key.
class BenchmarkArgs {
 public:
  BenchmarkArgs(int argc, char** argv, std::map<std::string, std::string> defaults,
                const std::string& usage);
  const std::string& Get(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  std::vector<int64_t> GetIntList(const std::string& key) const;  // "1,8,32"

 private:
  std::map<std::string, std::string> values_;
};

// One row of results: ordered (name, value) pairs; values are numbers or
// strings already formatted.
struct BenchmarkRow {
  std::vector<std::pair<std::string, std::string>> fields;
  BenchmarkRow& Add(const std::string& name, const std::string& value);
  BenchmarkRow& Add(const std::string& name, double value, int precision = 2);
  BenchmarkRow& Add(const std::string& name, int64_t value);
};

// Prints `{"benchmark": name, "context": {...}, "results": [...]}` as one
// JSON line, then an aligned table of the rows.
void PrintBenchmarkReport(const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& context,
                          const std::vector<BenchmarkRow>& rows);

// The body of a tool's main(): returns run(argc, argv), or prints
// "<name>: <what>" to stderr and returns 1 when it throws.
int RunProgram(const char* name, int (*run)(int, char**), int argc, char** argv);

// Seconds since an arbitrary epoch (monotonic).
inline double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TOOLS_BENCHMARK_UTIL_H_
