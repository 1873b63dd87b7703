# Prints how many bytes of .text a firmware links from libstreamix.a (its map file's input
# sections), beside the archive's total: what a microcontroller image carries of the library.
#   cmake -DMAP=<firmware>.map -P linked_library_text.cmake
file(READ ${MAP} map)
# (brackets and semicolons, which symbol names can hold, would split CMake's list elements)
string(REGEX REPLACE "[][;]" "_" map "${map}")
# An input section: its name, then (on the same line or the next) address, size and object.
string(REGEX MATCHALL "\n \\.text[^ \n]*[ \n]+0x[0-9a-f]+[ ]+0x[0-9a-f]+[ ]+[^\n]*libstreamix\\.a"
       sections "${map}")
set(total 0)
foreach(section IN LISTS sections)
  string(REGEX MATCH "(0x[0-9a-f]+)[ ]+(0x[0-9a-f]+)[ ]+[^\n]*$" _ "${section}")
  set(address ${CMAKE_MATCH_1})
  set(size ${CMAKE_MATCH_2})
  if(NOT address MATCHES "^0x0+$")  # (sections the linker discarded sit at address 0)
    math(EXPR total "${total} + ${size}")
  endif()
endforeach()
get_filename_component(name ${MAP} NAME_WE)
message("${name}: ${total} bytes of .text from libstreamix.a")
