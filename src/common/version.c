/* Library identity and error strings. */
#include <string.h>
#include <reservoir.h>
#include "build_id.h" /* generated: scripts/build_id.cmake */

const char *rsv_version(void)
{
	return RSV_VERSION;
}

const char *rsv_build_id(void)
{
	return RSV_BUILD_ID;
}

const char *rsv_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}
