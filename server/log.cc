#include "server/log.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace maskserve {

namespace {
bool QuietInfo() {
  static const bool quiet = [] {
    const char* value = std::getenv("MASKSERVE_LOG_QUIET");
    return value != nullptr && std::string(value) == "1";
  }();
  return quiet;
}
}  // namespace

LogLine::~LogLine() {
  if (level_ == LogLevel::kInfo && QuietInfo()) return;
  std::timespec now;
  std::timespec_get(&now, TIME_UTC);
  std::tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  const char* tag = level_ == LogLevel::kInfo ? "I" : level_ == LogLevel::kWarning ? "W" : "E";
  std::string line = std::string(tag) + " " + stamp + "." +
                     std::to_string(now.tv_nsec / 1000000 + 1000).substr(1) + "Z " + stream_.str() +
                     "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace maskserve
