#include "core/tools/benchmark_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/base/json.h"

namespace maskserve {

namespace {
bool IsNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

std::string JsonValueOf(const std::string& s) { return IsNumber(s) ? s : JsonQuote(s); }
}  // namespace

BenchmarkArgs::BenchmarkArgs(int argc, char** argv, std::map<std::string, std::string> defaults,
                             const std::string& usage)
    : values_(std::move(defaults)) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg.rfind("--", 0) != 0) {
      std::cerr << usage << "\n";
      std::exit(arg == "--help" ? 0 : 2);
    }
    size_t eq = arg.find('=');
    std::string key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value = eq == std::string::npos ? "true" : arg.substr(eq + 1);
    if (values_.count(key) == 0) {
      std::cerr << "unknown flag --" << key << "\n" << usage << "\n";
      std::exit(2);
    }
    values_[key] = value;
  }
}

const std::string& BenchmarkArgs::Get(const std::string& key) const { return values_.at(key); }

int64_t BenchmarkArgs::GetInt(const std::string& key) const {
  return std::strtoll(Get(key).c_str(), nullptr, 10);
}

double BenchmarkArgs::GetDouble(const std::string& key) const {
  return std::strtod(Get(key).c_str(), nullptr);
}

std::vector<int64_t> BenchmarkArgs::GetIntList(const std::string& key) const {
  std::vector<int64_t> out;
  std::stringstream in(Get(key));
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::strtoll(item.c_str(), nullptr, 10));
  }
  return out;
}

BenchmarkRow& BenchmarkRow::Add(const std::string& name, const std::string& value) {
  fields.emplace_back(name, value);
  return *this;
}

BenchmarkRow& BenchmarkRow::Add(const std::string& name, double value, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, value);
  return Add(name, std::string(buf));
}

BenchmarkRow& BenchmarkRow::Add(const std::string& name, int64_t value) {
  return Add(name, std::to_string(value));
}

void PrintBenchmarkReport(const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& context,
                          const std::vector<BenchmarkRow>& rows) {
  std::string json = "{\"benchmark\":" + JsonQuote(name) + ",\"context\":{";
  for (size_t i = 0; i < context.size(); ++i) {
    json += (i ? "," : "") + JsonQuote(context[i].first) + ":" + JsonValueOf(context[i].second);
  }
  json += "},\"results\":[";
  for (size_t r = 0; r < rows.size(); ++r) {
    json += r ? ",{" : "{";
    for (size_t i = 0; i < rows[r].fields.size(); ++i) {
      json += (i ? "," : "") + JsonQuote(rows[r].fields[i].first) + ":" +
              JsonValueOf(rows[r].fields[i].second);
    }
    json += "}";
  }
  json += "]}";
  std::cout << json << "\n\n";

  for (const auto& [k, v] : context) std::cout << "# " << k << ": " << v << "\n";
  if (rows.empty()) return;
  std::vector<size_t> width(rows[0].fields.size(), 0);
  for (size_t i = 0; i < width.size(); ++i) width[i] = rows[0].fields[i].first.size();
  for (const BenchmarkRow& row : rows) {
    for (size_t i = 0; i < row.fields.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row.fields[i].second.size());
    }
  }
  auto print_line = [&](auto value_of) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string v = value_of(i);
      line += std::string(width[i] - std::min(width[i], v.size()), ' ') + v + "  ";
    }
    std::cout << line << "\n";
  };
  print_line([&](size_t i) { return rows[0].fields[i].first; });
  for (const BenchmarkRow& row : rows) {
    print_line([&](size_t i) { return i < row.fields.size() ? row.fields[i].second : ""; });
  }
}

int RunProgram(const char* name, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace maskserve
