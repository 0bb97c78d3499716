#pragma once

#include <filesystem>

namespace pulsestream::test_support {

/// The repository's top directory (where schema.sql and tools/ live).
///
/// Targets that link pulsestream::test_support get it from the build (PULSESTREAM_SOURCE_DIR).
/// Header-only users (unit tests) are not given that definition; they get the directory two
/// levels above this header, which is the same place in a checkout.
inline std::filesystem::path source_dir() {
#ifdef PULSESTREAM_SOURCE_DIR
    return std::filesystem::path(PULSESTREAM_SOURCE_DIR);
#else
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
#endif
}

}  // namespace pulsestream::test_support
