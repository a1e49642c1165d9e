/* Library identity and error strings. */
#include <string.h>
#include <reservoir.h>

const char *rsv_version(void)
{
	return RSV_VERSION;
}

const char *rsv_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}
