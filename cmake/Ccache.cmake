# Use ccache when it is installed. Precompiled headers need the sloppiness
# settings below for ccache to hit.
find_program(MASKSERVE_CCACHE ccache)
if(MASKSERVE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      ${MASKSERVE_CCACHE})
  message(STATUS "Using ccache: ${MASKSERVE_CCACHE}")
endif()
