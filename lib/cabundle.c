#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cabundle.h"

/* Where distributions keep their PEM bundle of trusted authorities, the
 * most common first. */
static const char *const common_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt",           /* Debian, Ubuntu */
	"/etc/pki/tls/certs/ca-bundle.crt",             /* RHEL and kin */
	"/etc/ssl/ca-bundle.pem",                       /* SUSE */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* Fedora */
	"/etc/ssl/cert.pem",                            /* Alpine, BSDs */
};

static const char *
env_value(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

const char *
cabundle_path(void)
{
	const char *p;

	if ((p = env_value("CURL_CA_BUNDLE")) != NULL ||
	    (p = env_value("SSL_CERT_FILE")) != NULL)
		return p;
	for (size_t i = 0; i < sizeof(common_paths) / sizeof(common_paths[0]);
	    i++)
		if (access(common_paths[i], R_OK) == 0)
			return common_paths[i];
	return NULL;
}

void
cabundle_apply(CURL *h)
{
	const char *p = cabundle_path();

	if (p != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, p);
}
