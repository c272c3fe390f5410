# Builds and runs tests/cmake_consumer twice: through add_subdirectory, and through
# find_package against a copy of prela installed from the build running this test
# (PRELA_BINARY_DIR; built already, so the library is not compiled a third time). Then
# configures prela with the core alone where Boost, zlib and OpenSSL cannot be found.
set(src ${CMAKE_CURRENT_LIST_DIR})
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

set(common -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)

# 1. add_subdirectory
run(${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/sub ${common} -DMODE=subdirectory -DPRELA_SOURCE_DIR=${PRELA_SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/sub --target consumer -j2)
run(${WORK_DIR}/sub/consumer)

# 2. install, then find_package
run(${CMAKE_COMMAND} --install ${PRELA_BINARY_DIR} --prefix ${WORK_DIR}/install)
run(${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/pkg ${common} -DMODE=package -DCMAKE_PREFIX_PATH=${WORK_DIR}/install)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/pkg -j2)
run(${WORK_DIR}/pkg/consumer)
# 3. prela::core alone, on a machine without Boost, zlib or OpenSSL (made so by telling
#    CMake not to find them): it configures, and the core library builds.
run(${CMAKE_COMMAND} -S ${PRELA_SOURCE_DIR} -B ${WORK_DIR}/core ${common} -DPRELA_BUILD_EXPORTERS=OFF
    -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON -DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/core --target prela_core -j2)
message(STATUS "add_subdirectory and find_package consumers built and ran; prela::core built without Boost")
