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
  # Applied globally, so that the daemon, the tools and the generated code carry it; the tests' own
  # code is compiled without it (vigil_uninstrumented below). Unoptimised,
  # with line tables only (-g1: every sanitizer report still names file and line): instrumented
  # Asio and Beast code compiles about 2.6 times faster than at -O1 with full debug info, which
  # keeps the whole CI run within its time. The libraries the long tests spend their time in (the
  # engine, the corpus, the simulated physiology) are built at -O1 (vigil_library below), as
  # AddressSanitizer's authors advise: unoptimised, the corpus tests run about 20 times slower.
  # GCC's maybe-uninitialized warning gives false alarms on instrumented, optimised code
  # (libstdc++'s <regex> among them); the normal build keeps it.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O0 -g1
                      -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
  # LLVM's linker links the instrumented programs (a few hundred MB each, with line tables) in
  # about half the time of ld.bfd; the test script's set-up installs it (package lld).
  find_program(VIGIL_LLD ld.lld)
  if(VIGIL_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
endif()
set(VIGIL_SANITIZE_OPTIMISED vigil_engine vigil_model vigil_codec vigil_corpus vigil_sim_model)

# The tests' own code (test cases, the harness, the corpus reader): what they exercise is the
# daemon's code, which is what the sanitizers are for. In the sanitizer build it is compiled
# without instrumentation, though linked with the sanitizers' run-time, which halves its compile
# time; in the normal build it is compiled at -O1, a third faster than -O2, while the code under
# test keeps the build's optimisation.
function(vigil_uninstrumented name)
  if(VIGIL_SANITIZE)
    target_compile_options(${name} PRIVATE -fno-sanitize=all)
  else()
    target_compile_options(${name} PRIVATE -O1)
  endif()
endfunction()

# The normal build's debug information (RelWithDebInfo's -g), for profiling and core dumps. The
# test script turns it off: the tests do not need it, and it is about a quarter of the build's time.
if(NOT VIGIL_DEBUG_INFO)
  string(REGEX REPLACE "(^| )-g[0-9]*( |$)" " " CMAKE_CXX_FLAGS_RELWITHDEBINFO "${CMAKE_CXX_FLAGS_RELWITHDEBINFO}")
  string(REGEX REPLACE "(^| )-g[0-9]*( |$)" " " CMAKE_CXX_FLAGS_DEBUG "${CMAKE_CXX_FLAGS_DEBUG}")
endif()

# vigil_add_library(name SOURCES... DEPS...): one library per layer.
# The libraries of daemon/ and sim/ are recorded for vigil_write_library_links().
function(vigil_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE vigil_options)
  if(VIGIL_SANITIZE AND name IN_LIST VIGIL_SANITIZE_OPTIMISED)
    target_compile_options(${name} PRIVATE -O1)
  endif()
  if(CMAKE_CURRENT_SOURCE_DIR MATCHES "/tests(/|$)")
    vigil_uninstrumented(${name})
  endif()
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
