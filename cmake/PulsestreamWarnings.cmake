# Warnings are a per-target property: no global CMAKE_CXX_FLAGS.
function(pulsestream_enable_warnings target)
    target_compile_options(${target} PRIVATE
        $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
            -Wold-style-cast -Wcast-align -Wimplicit-fallthrough>)
endfunction()
