/* reservoir/version.h: the one place that holds reservoir's version (semantic versioning).
 * The build reads it (CMakeLists.txt: the project's version, the shared library's soname,
 * reservoir.pc and the CMake package), so nothing else may spell it out. */
#ifndef RESERVOIR_VERSION_H
#define RESERVOIR_VERSION_H

#define RSV_VERSION_MAJOR 0
#define RSV_VERSION_MINOR 1
#define RSV_VERSION_PATCH 0

#define RSV__STR(x) #x
#define RSV__XSTR(x) RSV__STR(x)
/* "MAJOR.MINOR.PATCH", what rsv_version() returns for the headers a program was built with. */
#define RSV_VERSION                                                                                \
	RSV__XSTR(RSV_VERSION_MAJOR)                                                               \
	"." RSV__XSTR(RSV_VERSION_MINOR) "." RSV__XSTR(RSV_VERSION_PATCH)
/* One number that grows with each release, for #if: 10000 * major + 100 * minor + patch. */
#define RSV_VERSION_NUMBER (RSV_VERSION_MAJOR * 10000 + RSV_VERSION_MINOR * 100 + RSV_VERSION_PATCH)

#endif
