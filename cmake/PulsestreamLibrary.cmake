# pulsestream_library(NAME SOURCES ... DEPS ...) defines pulsestream_NAME with the
# pulsestream::NAME alias, C++20, warnings, and the public include/ directory.
function(pulsestream_library name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
    add_library(pulsestream_${name} STATIC ${ARG_SOURCES})
    add_library(pulsestream::${name} ALIAS pulsestream_${name})
    target_compile_features(pulsestream_${name} PUBLIC cxx_std_20)
    target_include_directories(pulsestream_${name} PUBLIC
        $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
        PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(pulsestream_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
    pulsestream_enable_warnings(pulsestream_${name})
endfunction()

# pulsestream_executable(NAME SOURCES ... DEPS ...) defines a thin binary.
function(pulsestream_executable name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_compile_features(${name} PRIVATE cxx_std_20)
    target_link_libraries(${name} PRIVATE ${ARG_DEPS})
    pulsestream_enable_warnings(${name})
    if(PULSESTREAM_TSAN_C11_THREADS)
        target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/tsan_c11_threads.cpp)
    endif()
endfunction()
