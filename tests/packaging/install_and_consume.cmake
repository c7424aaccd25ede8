# cmake -P script behind the packaging:install_and_consume test:
#   1. brings the installed targets of BUILD_DIR up to date (a no-op after
#      `cmake --build`; without it a stale or unbuilt tree would be installed),
#   2. cmake --install BUILD_DIR --prefix WORK_DIR/prefix,
#   3. configures consumer/ with CMAKE_PREFIX_PATH=WORK_DIR/prefix,
#   4. builds it (-j2) and 5. runs its two programs.
# Any failing step fails the test. WORK_DIR is recreated on every run and
# kept afterwards for inspection.
cmake_minimum_required(VERSION 3.18)
foreach(var BUILD_DIR CONFIG WORK_DIR CONSUMER_SOURCE_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_and_consume.cmake: -D${var}=... missing")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)

function(step name)
  string(TIMESTAMP start "%s")
  list(JOIN ARGN " " command)
  message(STATUS "[packaging] ${name}: ${command}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${start}")
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "[packaging] ${name} failed (${result})")
  endif()
  message(STATUS "[packaging] ${name}: ok (${seconds} s)")
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# The launcher depends on every installed library.
step("build" ${CMAKE_COMMAND} --build ${BUILD_DIR} --config ${CONFIG}
     --target orasi-discovery -j2)
step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --config ${CONFIG}
     --prefix ${prefix})

set(make_program)
if(MAKE_PROGRAM)
  set(make_program -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
step("configure consumer" ${CMAKE_COMMAND}
     -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
     ${make_program}
     -DCMAKE_BUILD_TYPE=${CONFIG}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
     -DCMAKE_PREFIX_PATH=${prefix})

# The package must come from the scratch prefix, not from elsewhere on the
# system (CMAKE_PREFIX_PATH is searched first, but check).
file(STRINGS ${consumer_build}/CMakeCache.txt package_dir
     REGEX "^orasi_discovery_DIR:")
string(REGEX REPLACE "^[^=]*=" "" package_dir "${package_dir}")
string(FIND "${package_dir}" "${prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR
    "[packaging] orasi_discovery found in '${package_dir}', not in ${prefix}")
endif()

step("build consumer" ${CMAKE_COMMAND} --build ${consumer_build}
     --config ${CONFIG} -j2)

foreach(program orasi_consumer orasi_consumer_admin)
  set(path ${consumer_build}/${program})
  if(EXISTS ${consumer_build}/${CONFIG}/${program}) # multi-config generators
    set(path ${consumer_build}/${CONFIG}/${program})
  endif()
  step("run ${program}" ${path})
endforeach()
