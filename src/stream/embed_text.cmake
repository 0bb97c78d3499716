# cmake -DINPUT=file -DOUTPUT=file.cpp -DNAMESPACE=ns -DSYMBOL=name -P embed_text.cmake
# Writes a .cpp defining `std::string_view ns::name()` with the input's bytes, so that the
# gateway binary carries the dashboard page and needs no file next to it at run time.
file(READ "${INPUT}" content)
set(delimiter "PS_EMBED")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains the raw-string delimiter ${delimiter}")
endif()
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by embed_text.cmake; edit the source file instead.
#include <string_view>

namespace ${NAMESPACE} {

std::string_view ${SYMBOL}() {
    static constexpr std::string_view text = R\"${delimiter}(${content})${delimiter}\";
    return text;
}

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
