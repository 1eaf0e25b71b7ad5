#include "err.h"

static const char *const messages[OV__MAX] = {
	[OV_OK] = "success",
	[OV_ENOMEM] = "out of memory",
	[OV_EINVAL] = "invalid argument",
	[OV_EIO] = "input/output error",
	[OV_ENOTFOUND] = "not found",
	[OV_EEXIST] = "already exists",
	[OV_ESTORE] = "store error",
	[OV_ECONFIG] = "configuration error",
	[OV_EPARSE] = "malformed input",
	[OV_ETOOBIG] = "input too large",
	[OV_EAUTH] = "authentication failed",
	[OV_ETIMEOUT] = "timed out",
	[OV_EBUSY] = "busy",
	[OV_EREMOTE] = "remote service error",
};

const char *
ov_strerror(int err)
{
	if (err < 0 || err >= OV__MAX || messages[err] == 0)
		return "unknown error";
	return messages[err];
}
