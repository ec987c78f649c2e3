// File: storage/testing/temp_dir.h
//
// A fresh directory under $TMPDIR (or /tmp) that is removed with everything
// in it when the object goes out of scope. For tests and benchmarks.
//
//   TempDir dir("store_test");
//   options.data_dir = dir.path() + "/db";
//
// Thread safety: one owner.
#ifndef MASKSERVE_STORAGE_TESTING_TEMP_DIR_H_
#define MASKSERVE_STORAGE_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace maskserve {

class TempDir {
 public:
  explicit TempDir(const std::string& name, const std::string& parent = "") {
    std::string base = parent;
    if (base.empty()) {
      const char* env = std::getenv("TMPDIR");
      base = (env != nullptr && *env != '\0') ? env : "/tmp";
    }
    std::string pattern = base + "/" + name + ".XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_TEMP_DIR_H_
