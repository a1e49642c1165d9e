# The build id: a hash of every library source and header, written to OUT as RSV_BUILD_ID.
# A schedule file records it, and a build that hashes differently refuses the schedule: its
# decisions were made by other code (tools/schedule.c). Run by the build (CMakeLists.txt)
# whenever one of those files changes; the header is rewritten only if the id changed.
file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/src/*.c ${SRC}/src/*.h ${SRC}/include/*.h)
list(SORT files)
set(all "")
foreach(f IN LISTS files)
  file(SHA256 ${SRC}/${f} h)
  string(APPEND all "${f} ${h}\n")
endforeach()
string(SHA256 id "${all}")
string(SUBSTRING "${id}" 0 16 id)
file(WRITE ${OUT}.tmp "#define RSV_BUILD_ID \"${id}\"\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
