/* The baseline: a hello-world CGI that reads its body and answers 200. */
#include <stdio.h>
#include <stdlib.h>

int
main(void)
{
	const char *cl = getenv("CONTENT_LENGTH");
	long n = cl != NULL ? strtol(cl, NULL, 10) : 0;
	char buf[8192];

	while (n > 0) {
		size_t r = fread(buf, 1, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf), stdin);
		if (r == 0)
			break;
		n -= (long)r;
	}
	fputs("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n", stdout);
	return 0;
}
