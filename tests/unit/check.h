/*
 * check.h - the smallest test harness that does the job.
 *
 * A test is a function; RUN(fn) runs it and counts it passed when none of
 * its CHECKs failed. A failed CHECK prints file:line and the expression and
 * the test goes on, so one run shows every failure. check_finish() prints
 * the closing line "N passed, N failed" and gives the exit status.
 */
#ifndef OVIDIO_CHECK_H
#define OVIDIO_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_tests_passed, check_tests_failed, check_current_failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			check_current_failed++;                            \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__,    \
			    __LINE__, #cond);                              \
		}                                                          \
	} while (0)

#define CHECK_INT(a, b)                                                    \
	do {                                                               \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_) {                                \
			check_current_failed++;                            \
			fprintf(stderr, "  FAIL %s:%d: %s == %s (%lld != %lld)\n", \
			    __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
		}                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		const char *check_a_ = (a), *check_b_ = (b);               \
		if (check_a_ == NULL || check_b_ == NULL ||                \
		    strcmp(check_a_, check_b_) != 0) {                     \
			check_current_failed++;                            \
			fprintf(stderr, "  FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n", \
			    __FILE__, __LINE__, #a, #b,                    \
			    check_a_ ? check_a_ : "(null)",                \
			    check_b_ ? check_b_ : "(null)");               \
		}                                                          \
	} while (0)

#define RUN(fn)                                                            \
	do {                                                               \
		check_current_failed = 0;                                  \
		fn();                                                      \
		if (check_current_failed == 0) {                           \
			check_tests_passed++;                              \
			fprintf(stderr, "ok   %s\n", #fn);                 \
		} else {                                                   \
			check_tests_failed++;                              \
			fprintf(stderr, "FAIL %s\n", #fn);                 \
		}                                                          \
	} while (0)

static inline int
check_finish(void)
{
	fflush(stderr);
	printf("%d passed, %d failed\n", check_tests_passed,
	    check_tests_failed);
	return check_tests_failed == 0 ? 0 : 1;
}

#endif
