# Compiles SRC with CXX (syntax only) and passes when compilation FAILS with output matching the
# regex on the file's first line ("// expect: REGEX"): misuse that must not compile is a test.
file(STRINGS ${SRC} first LIMIT_COUNT 1)
string(REGEX REPLACE "^// expect: " "" expect "${first}")
set(incs)
foreach(d ${INCS})
  list(APPEND incs -I${d})
endforeach()
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only ${DEFS} ${incs} ${SRC}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SRC} compiled, but it must not")
endif()
if(NOT "${out}${err}" MATCHES "${expect}")
  message(FATAL_ERROR "${SRC} failed to compile, but without the expected message '${expect}':\n${err}")
endif()
