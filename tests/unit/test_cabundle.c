/* The CA file handed to libcurl: the environment first, then the common
 * places, else libcurl's own default. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cabundle.h"
#include "check.h"

static void
curl_ca_bundle_wins(void)
{
	setenv("CURL_CA_BUNDLE", "/srv/ca/mine.pem", 1);
	setenv("SSL_CERT_FILE", "/srv/ca/other.pem", 1);
	CHECK_STR(cabundle_path(), "/srv/ca/mine.pem");
	unsetenv("CURL_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
}

static void
ssl_cert_file_next(void)
{
	setenv("CURL_CA_BUNDLE", "", 1);   /* empty counts as unset */
	setenv("SSL_CERT_FILE", "/srv/ca/other.pem", 1);
	CHECK_STR(cabundle_path(), "/srv/ca/other.pem");
	unsetenv("CURL_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
}

/* Without either, a readable file of the common places, or NULL when this
 * machine has none of them. */
static void
common_place_otherwise(void)
{
	const char *p;

	unsetenv("CURL_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
	p = cabundle_path();
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
		CHECK_STR(p, "/etc/ssl/certs/ca-certificates.crt");
	} else if (p != NULL) {
		CHECK(access(p, R_OK) == 0);
		CHECK(strncmp(p, "/etc/", 5) == 0);
	}
}

int
main(void)
{
	RUN(curl_ca_bundle_wins);
	RUN(ssl_cert_file_next);
	RUN(common_place_otherwise);
	return check_finish();
}
