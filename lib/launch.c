#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "launch.h"

#define LOADER_NAME "ld-linux-x86-64.so.2"

static int
join(char *out, size_t cap, const char *dir, const char *rest)
{
	int n = snprintf(out, cap, "%s/%s", dir, rest);

	return n >= 0 && (size_t)n < cap ? OV_OK : OV_EINVAL;
}

int
launch_plan(const char *self, struct launch_plan *p)
{
	const char *name, *end;
	size_t rootlen, namelen;

	memset(p, 0, sizeof(*p));
	if (self == NULL || self[0] != '/')
		return OV_EINVAL;
	end = self + strlen(self);
	name = strrchr(self, '/') + 1;
	namelen = (size_t)(end - name);
	if (namelen == 0 || namelen > NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return OV_EINVAL;
	/* The directory holding the launcher (cgi-bin or jobs), then the
	 * one above it: the root. "/cgi-bin/x" has the root "/". */
	end = name - 1;
	while (end > self && end[-1] != '/')
		end--;
	if (end == name - 1)
		return OV_EINVAL;               /* "/x": no subdirectory */
	rootlen = (size_t)(end - self);
	if (rootlen > 1)
		rootlen--;                      /* drop the trailing '/' */
	if (rootlen >= sizeof(p->root))
		return OV_EINVAL;
	memcpy(p->root, self, rootlen);
	p->root[rootlen] = '\0';
	memcpy(p->name, name, namelen);
	p->name[namelen] = '\0';
	{
		/* "/" + "lib" must not give "//lib". */
		const char *r = strcmp(p->root, "/") == 0 ? "" : p->root;

		if (join(p->libdir, sizeof(p->libdir), r, "lib") != OV_OK ||
		    join(p->loader, sizeof(p->loader), p->libdir,
		    LOADER_NAME) != OV_OK ||
		    join(p->openssl_conf, sizeof(p->openssl_conf), p->libdir,
		    "openssl.cnf") != OV_OK ||
		    join(p->sasl_path, sizeof(p->sasl_path), p->libdir,
		    "sasl2") != OV_OK ||
		    snprintf(p->program, sizeof(p->program), "%s/libexec/%s",
		    r, p->name) >= (int)sizeof(p->program)) {
			memset(p, 0, sizeof(*p));
			return OV_EINVAL;
		}
	}
	return OV_OK;
}

char **
launch_argv(const struct launch_plan *p, int argc, char *const argv[])
{
	char **v;
	size_t n = 0, nargs = argc > 1 ? (size_t)argc - 1 : 0;

	/* loader, 3 options with values, 1 without, program, args, NULL */
	if ((v = calloc(9 + nargs, sizeof(*v))) == NULL)
		return NULL;
	v[n++] = (char *)p->loader;
	v[n++] = "--inhibit-cache";
	v[n++] = "--library-path";
	v[n++] = (char *)p->libdir;
	v[n++] = "--argv0";
	v[n++] = argc > 0 && argv[0] != NULL ? argv[0] : (char *)p->name;
	v[n++] = (char *)p->program;
	for (size_t i = 0; i < nargs; i++)
		v[n++] = argv[i + 1];
	v[n] = NULL;
	return v;
}
