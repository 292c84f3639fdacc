# Compiler settings shared by every Vigil target.

add_library(vigil_options INTERFACE)
target_compile_options(vigil_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                               -Wconversion -Wno-sign-conversion)
if(VIGIL_WERROR)
  target_compile_options(vigil_options INTERFACE -Werror)
endif()
target_compile_definitions(vigil_options INTERFACE BOOST_ASIO_NO_DEPRECATED
                                                   VIGIL_VERSION="${PROJECT_VERSION}")

if(VIGIL_SANITIZE)
  # Applied globally so that generated code and tests carry the same instrumentation.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# vigil_add_library(name SOURCES... DEPS...): one library per layer.
function(vigil_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE vigil_options)
endfunction()
