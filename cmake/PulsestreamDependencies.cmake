# Every dependency comes from Debian bookworm packages (tools/install-deps lists them).
# CMake configs where Debian ships one, pkg-config IMPORTED_TARGETs otherwise.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.81...<1.82 CONFIG REQUIRED COMPONENTS system)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka>=2.0)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis>=0.14)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
# libpq (libpqxx's own base, package libpq-dev): pg::event_writer calls it for binary COPY,
# which libpqxx 6 lacks.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq>=15)
if(PULSESTREAM_BUILD_TESTS)
    find_package(GTest REQUIRED)
endif()
