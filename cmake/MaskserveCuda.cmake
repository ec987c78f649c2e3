# The optional CUDA kernels (core/cuda). Include after project(); sets MASKSERVE_HAVE_CUDA_KERNELS
# (ON/OFF) for core/cuda/CMakeLists.txt.
#
#   -DMASKSERVE_CUDA=AUTO  (default) build them when a CUDA compiler is found, else go on without
#   -DMASKSERVE_CUDA=ON    require them (fails when no CUDA compiler/toolkit is found)
#   -DMASKSERVE_CUDA=OFF   skip them; nvcc is never looked for
#
# GPU architectures: CMAKE_CUDA_ARCHITECTURES (or the CUDAARCHS environment variable) when given,
# else "80;90" (A100, H100/H200; nvcc 13 has no sm_70 or older).
include_guard(GLOBAL)

set(MASKSERVE_CUDA "AUTO" CACHE STRING "Build the CUDA kernels in core/cuda: AUTO, ON or OFF")
set_property(CACHE MASKSERVE_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${MASKSERVE_CUDA}" _maskserve_cuda_mode)
if(NOT _maskserve_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "MASKSERVE_CUDA must be AUTO, ON or OFF, got '${MASKSERVE_CUDA}'")
endif()

set(MASKSERVE_HAVE_CUDA_KERNELS OFF)
if(_maskserve_cuda_mode STREQUAL "OFF")
  message(STATUS "CUDA kernels: off (MASKSERVE_CUDA=OFF)")
else()
  if(_maskserve_cuda_mode STREQUAL "AUTO")
    include(CheckLanguage)
    check_language(CUDA)
  endif()
  if(_maskserve_cuda_mode STREQUAL "ON" OR CMAKE_CUDA_COMPILER)
    # Must be set before enable_language(), which otherwise picks the compiler's default.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
      set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "GPU architectures for the CUDA kernels")
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_EXTENSIONS OFF)
    if(_maskserve_cuda_mode STREQUAL "ON")
      find_package(CUDAToolkit REQUIRED)
    else()
      find_package(CUDAToolkit)
    endif()
    if(CUDAToolkit_FOUND)
      set(MASKSERVE_HAVE_CUDA_KERNELS ON)
      message(STATUS "CUDA kernels: on (${CMAKE_CUDA_COMPILER}, CUDA ${CUDAToolkit_VERSION}, "
                     "architectures ${CMAKE_CUDA_ARCHITECTURES})")
    else()
      message(STATUS "CUDA kernels: off (CUDA compiler found but no CUDA toolkit)")
    endif()
  else()
    message(STATUS "CUDA kernels: off (no CUDA compiler found; MASKSERVE_CUDA=AUTO)")
  endif()
endif()
unset(_maskserve_cuda_mode)
