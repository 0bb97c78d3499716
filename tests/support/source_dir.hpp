#pragma once

#include <filesystem>

namespace pulsestream::test_support {

/// The repository's top directory (where schema.sql and tools/ live), as the build defines it
/// for every test target (PULSESTREAM_SOURCE_DIR).
inline std::filesystem::path source_dir() { return std::filesystem::path(PULSESTREAM_SOURCE_DIR); }

}  // namespace pulsestream::test_support
