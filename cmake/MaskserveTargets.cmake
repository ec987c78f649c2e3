# Helpers shared by every folder's CMakeLists.txt.

# Warnings for our own code (not for generated code).
function(maskserve_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# maskserve_test(NAME <binary> SOURCES ... LIBS ...)
# One GoogleTest binary per module; every TEST becomes a CTest test. Tests get
# MASKSERVE_SHARED_DIR, MASKSERVE_BINARY_DIR, MASKSERVE_SOURCE_DIR and
# MASKSERVE_DEFAULT_MODEL_DIR as string macros.
function(maskserve_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${T_NAME} PRIVATE
      MASKSERVE_SHARED_DIR="${MASKSERVE_SHARED_DIR}"
      MASKSERVE_BINARY_DIR="${PROJECT_BINARY_DIR}"
      MASKSERVE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      MASKSERVE_DEFAULT_MODEL_DIR="${MASKSERVE_DEFAULT_MODEL_DIR}")
  maskserve_warnings(${T_NAME})
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${T_NAME}."
      PROPERTIES ENVIRONMENT "MASKSERVE_LOG_QUIET=1")
endfunction()
