/*
 * cabundle.h - where HTTPS finds the certificate authorities of the host.
 *
 * libcurl looks for them where the machine it was built on keeps them
 * (Debian: /etc/ssl/certs/ca-certificates.crt). The bundle (make bundle)
 * ships that libcurl to hosts that keep them elsewhere (RHEL-likes:
 * /etc/pki/tls/certs/ca-bundle.crt), where every HTTPS call would fail.
 * Every module that opens TLS connections therefore calls cabundle_apply()
 * on its handle after setting it up.
 *
 * No allocation; nothing to free. Thread-safe (no state is kept: the
 * lookup is a few access() calls, nothing next to a TLS handshake).
 */
#ifndef OVIDIO_CABUNDLE_H
#define OVIDIO_CABUNDLE_H

#include <curl/curl.h>

/*
 * The CA file to use: CURL_CA_BUNDLE from the environment, else
 * SSL_CERT_FILE (an empty value counts as unset; a named file is used as
 * named, so a wrong one fails visibly), else the first readable of the
 * common places (Debian/Ubuntu, RHEL/CentOS/Alma/Rocky/CloudLinux, SUSE,
 * Fedora's extracted bundle, Alpine/BSD), else NULL: libcurl's own
 * default. Points into the environment or static storage.
 */
const char *cabundle_path(void);

/* Sets CURLOPT_CAINFO on h to cabundle_path() when that is not NULL. */
void cabundle_apply(CURL *h);

#endif
