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
  # Applied globally so that generated code and tests carry the same instrumentation. -O1, as
  # AddressSanitizer's authors advise: unoptimised, the engine's corpus tests run about 20 times
  # slower than in the normal build, close to their time limit on two cores. GCC's
  # maybe-uninitialized warning gives false alarms on instrumented, optimised code (libstdc++'s
  # <regex> among them); the normal build keeps it.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1
                      -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
endif()

# vigil_add_library(name SOURCES... DEPS...): one library per layer.
# The libraries of daemon/ and sim/ are recorded for vigil_write_library_links().
function(vigil_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE vigil_options)
  if(CMAKE_CURRENT_SOURCE_DIR MATCHES "/(daemon|sim)$")
    set_property(GLOBAL APPEND PROPERTY VIGIL_LIBRARIES ${name})
  endif()
endfunction()

# Writes each recorded library's links to other Vigil libraries (and to vigil_proto), as CMake
# holds them once every target is defined: "name: link link ...", one line per library, for
# the test that checks the dependency diagram of docs/architecture.md (cmake/CheckArchitecture.cmake).
function(vigil_write_library_links path)
  get_property(libraries GLOBAL PROPERTY VIGIL_LIBRARIES)
  list(APPEND libraries vigil_proto)
  set(text "")
  foreach(library IN LISTS libraries)
    get_target_property(links ${library} LINK_LIBRARIES)
    set(ours "")
    foreach(link IN LISTS links)
      if(link IN_LIST libraries)
        list(APPEND ours ${link})
      endif()
    endforeach()
    list(JOIN ours " " joined)
    string(APPEND text "${library}: ${joined}\n")
  endforeach()
  file(WRITE ${path} "${text}")
endfunction()
