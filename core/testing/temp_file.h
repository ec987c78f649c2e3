// File: core/testing/temp_file.h
//
// Test fixture files: WriteTempFile() writes `text` to `name` in the
// GoogleTest temporary directory (replacing any earlier file) and returns
// its path.
#ifndef MASKSERVE_CORE_TESTING_TEMP_FILE_H_
#define MASKSERVE_CORE_TESTING_TEMP_FILE_H_

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace maskserve::testing {

inline std::string WriteTempFile(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) / name).string();
  std::ofstream(path, std::ios::trunc | std::ios::binary) << text;
  return path;
}

}  // namespace maskserve::testing

#endif  // MASKSERVE_CORE_TESTING_TEMP_FILE_H_
