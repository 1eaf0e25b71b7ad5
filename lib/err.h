/*
 * err.h - the one error enumeration of Ovidio.
 *
 * Every library function returns an int that is OV_OK (0) or one of these
 * codes. Messages for people are made at the edge with ov_strerror().
 */
#ifndef OVIDIO_ERR_H
#define OVIDIO_ERR_H

enum ov_err {
	OV_OK = 0,
	OV_ENOMEM,     /* allocation failed */
	OV_EINVAL,     /* argument or input failed validation */
	OV_EIO,        /* file system or socket error (see errno in the log) */
	OV_ENOTFOUND,  /* no such record or file */
	OV_EEXIST,     /* record or file already exists */
	OV_ESTORE,     /* the store (SQLite or MongoDB) refused or failed */
	OV_ECONFIG,    /* a required configuration key is missing or invalid */
	OV_EPARSE,     /* malformed input (JSON, HTML, number) */
	OV_ETOOBIG,    /* input over its size bound */
	OV_EAUTH,      /* signature or credentials refused */
	OV_ETIMEOUT,   /* an operation ran out of time */
	OV_EBUSY,      /* resource locked by another process; try later */
	OV_EREMOTE,    /* an outside service answered with an error */
	OV__MAX
};

/* Static, never NULL, never freed. Unknown codes give "unknown error". */
const char *ov_strerror(int err);

#endif
