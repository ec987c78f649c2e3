// File: server/log.h
//
// Minimal leveled logging to stderr (Debian 12's Abseil has no absl/log).
//
//   MASKSERVE_LOG(INFO) << "listening on " << address;
//
// Each statement writes one line atomically, prefixed with an ISO-8601 UTC
// timestamp and the level. MASKSERVE_LOG_QUIET=1 in the environment silences
// INFO (tests set it). Thread-safe.
#ifndef MASKSERVE_SERVER_LOG_H_
#define MASKSERVE_SERVER_LOG_H_

#include <sstream>

namespace maskserve {

enum class LogLevel { kInfo, kWarning, kError };

// Collects one line and writes it on destruction.
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace maskserve

#define MASKSERVE_LOG_INFO ::maskserve::LogLevel::kInfo
#define MASKSERVE_LOG_WARNING ::maskserve::LogLevel::kWarning
#define MASKSERVE_LOG_ERROR ::maskserve::LogLevel::kError
#define MASKSERVE_LOG(level) ::maskserve::LogLine(MASKSERVE_LOG_##level)

#endif  // MASKSERVE_SERVER_LOG_H_
