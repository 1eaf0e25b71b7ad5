#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "phone.h"

/*
 * Argentina's geographic area codes (numbering plan of ENACOM, the same
 * set libphonenumber uses to strip the mobile "15"): 11 (Buenos Aires),
 * the 3-digit codes of the large cities and the 4-digit codes of the
 * rest. Area code + subscriber number is always 10 digits. A few 3-digit
 * codes are prefixes of 4-digit ones (343 and 3435); the subscriber
 * numbers are assigned so that a dialled number stays unambiguous.
 * Update this table, not the code, when the plan changes.
 */
static const char *const area_codes[] = {
	"11",
	"220", "221", "223", "230", "236", "237", "249", "260", "261", "263",
	"264", "266", "280", "291", "294", "297", "298", "299", "336", "341",
	"342", "343", "345", "348", "351", "353", "358", "362", "364", "370",
	"376", "379", "380", "381", "383", "385", "387", "388",
	"2202", "2221", "2223", "2224", "2225", "2226", "2227", "2229", "2241",
	"2242", "2243", "2244", "2245", "2246", "2252", "2254", "2255", "2257",
	"2261", "2262", "2264", "2265", "2266", "2267", "2268", "2271", "2272",
	"2273", "2274", "2281", "2283", "2284", "2285", "2286", "2291", "2292",
	"2296", "2297", "2302", "2314", "2316", "2317", "2320", "2323", "2324",
	"2325", "2326", "2331", "2333", "2334", "2335", "2336", "2337", "2338",
	"2342", "2343", "2344", "2345", "2346", "2352", "2353", "2354", "2355",
	"2356", "2357", "2358", "2392", "2393", "2394", "2395", "2396", "2473",
	"2474", "2475", "2477", "2478", "2622", "2624", "2625", "2626", "2646",
	"2647", "2648", "2651", "2655", "2656", "2657", "2658", "2901", "2902",
	"2903", "2920", "2921", "2922", "2923", "2924", "2925", "2926", "2927",
	"2928", "2929", "2931", "2932", "2933", "2934", "2935", "2936", "2940",
	"2942", "2945", "2946", "2948", "2952", "2953", "2954", "2962", "2963",
	"2964", "2966", "2972", "2982", "2983", "3327", "3329", "3382", "3385",
	"3387", "3388", "3400", "3401", "3402", "3404", "3405", "3406", "3407",
	"3408", "3409", "3435", "3436", "3437", "3438", "3442", "3444", "3445",
	"3446", "3447", "3454", "3455", "3456", "3458", "3460", "3462", "3463",
	"3464", "3465", "3466", "3467", "3468", "3469", "3471", "3472", "3476",
	"3482", "3483", "3487", "3489", "3491", "3492", "3493", "3496", "3497",
	"3498", "3521", "3522", "3524", "3525", "3532", "3533", "3537", "3541",
	"3542", "3543", "3544", "3546", "3547", "3548", "3549", "3562", "3563",
	"3564", "3571", "3572", "3573", "3574", "3575", "3576", "3582", "3583",
	"3584", "3585", "3711", "3715", "3716", "3718", "3721", "3725", "3731",
	"3734", "3735", "3741", "3743", "3751", "3754", "3755", "3756", "3757",
	"3758", "3772", "3773", "3774", "3775", "3777", "3781", "3782", "3786",
	"3821", "3825", "3826", "3827", "3832", "3835", "3837", "3838", "3841",
	"3843", "3844", "3845", "3846", "3854", "3855", "3856", "3857", "3858",
	"3861", "3862", "3863", "3865", "3867", "3868", "3869", "3873", "3876",
	"3877", "3878", "3885", "3886", "3887", "3888", "3891", "3892", "3894",
};

#define N_AREA_CODES (sizeof(area_codes) / sizeof(area_codes[0]))
#define DIGITS_MAX 20

bool
phone_area_code_known(const char *digits, size_t len)
{
	if (len < 2 || len > 4)
		return false;
	for (size_t i = 0; i < N_AREA_CODES; i++)
		if (strlen(area_codes[i]) == len &&
		    memcmp(area_codes[i], digits, len) == 0)
			return true;
	return false;
}

/* A 10-digit number is national when it starts with a known area code
 * followed by a subscriber number, which never starts with 0 or 1. */
static bool
national_valid(const char *d)
{
	for (size_t alen = 2; alen <= 4; alen++)
		if (phone_area_code_known(d, alen) && d[alen] >= '2' &&
		    d[alen] <= '9')
			return true;
	return false;
}

/*
 * Collect the digits of one written number. Before the first digit,
 * letters and punctuation are a label ("Cel.: ") and a '+' marks the
 * international form; after it, separators are skipped and anything else
 * ends the number ("int. 23", "(oficina)").
 */
static int
collect_digits(const char *s, char d[DIGITS_MAX + 1], bool *plus)
{
	size_t n = 0;

	*plus = false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= '0' && c <= '9') {
			if (n == DIGITS_MAX)
				return OV_EINVAL;
			d[n++] = (char)c;
		} else if (n == 0) {
			if (c == '+')
				*plus = true;
			else if (isalpha(c) || c == ':' || c == '.' ||
			    c == ' ' || c == '\t' || c == '(' || c == ')' ||
			    c == '-' || c >= 0x80)
				continue;
			else
				return OV_EINVAL;
		} else if (c == ' ' || c == '\t' || c == '-' || c == '.' ||
		    c == '(' || c == ')' || c >= 0x80) {
			/* Separators; bytes >= 0x80 are a no-break space or a
			 * typographic dash in UTF-8. */
			continue;
		} else {
			break;
		}
	}
	d[n] = '\0';
	return n > 0 ? OV_OK : OV_EINVAL;
}

/* r is the national part, possibly with the mobile 15 after the area
 * code: 10 or 12 digits. */
static int
strip_local_15(const char *r, char out[PHONE_NATIONAL_LEN + 1])
{
	size_t len = strlen(r), found = 0, alen_found = 0;

	if (len == PHONE_NATIONAL_LEN) {
		if (!national_valid(r))
			return OV_EINVAL;
		memcpy(out, r, PHONE_NATIONAL_LEN + 1);
		return OV_OK;
	}
	if (len != PHONE_NATIONAL_LEN + 2)
		return OV_EINVAL;
	for (size_t alen = 2; alen <= 4; alen++) {
		if (phone_area_code_known(r, alen) && r[alen] == '1' &&
		    r[alen + 1] == '5') {
			found++;
			alen_found = alen;
		}
	}
	if (found != 1)
		return OV_EINVAL;
	memcpy(out, r, alen_found);
	memcpy(out + alen_found, r + alen_found + 2,
	    PHONE_NATIONAL_LEN - alen_found);
	out[PHONE_NATIONAL_LEN] = '\0';
	return national_valid(out) ? OV_OK : OV_EINVAL;
}

int
phone_to_national(const char *s, char out[PHONE_NATIONAL_LEN + 1])
{
	char d[DIGITS_MAX + 1];
	const char *r;
	bool plus, intl = false;
	size_t n;
	int rc;

	out[0] = '\0';
	if (s == NULL || strnlen(s, PHONE_INPUT_MAX + 1) > PHONE_INPUT_MAX)
		return OV_EINVAL;
	if ((rc = collect_digits(s, d, &plus)) != OV_OK)
		return rc;
	r = d;
	n = strlen(r);
	if (plus) {
		intl = true;
	} else if (strncmp(r, "00", 2) == 0) {
		r += 2;             /* international call prefix */
		intl = true;
	} else if (strncmp(r, "54", 2) == 0 && n >= 12) {
		intl = true;        /* a wa_id, or +54 written without the + */
	}
	if (intl) {
		if (strncmp(r, "54", 2) != 0)
			return OV_EINVAL;   /* another country */
		r += 2;
		if (*r == '9')
			r++;                /* the mobile 9 */
		if (*r == '0')
			r++;                /* "+54 (0341) ..." */
	} else if (*r == '0') {
		r++;                        /* trunk prefix */
	} else if (*r == '9' && strlen(r) == PHONE_NATIONAL_LEN + 1) {
		r++;                        /* "9 341 5551234", no 54 */
	}
	rc = strip_local_15(r, out);
	if (rc != OV_OK)
		out[0] = '\0';
	return rc;
}

bool
phone_match(const char *a, const char *b)
{
	char na[PHONE_NATIONAL_LEN + 1], nb[PHONE_NATIONAL_LEN + 1];

	if (phone_to_national(a, na) != OV_OK ||
	    phone_to_national(b, nb) != OV_OK)
		return false;
	return memcmp(na, nb, PHONE_NATIONAL_LEN) == 0;
}

/* Word separator " y " / " o " at p (case-insensitive)? */
static bool
word_separator(const char *p)
{
	return p[0] == ' ' && (p[1] == 'y' || p[1] == 'Y' || p[1] == 'o' ||
	    p[1] == 'O') && p[2] == ' ';
}

int
phone_field_numbers(const char *field, char out[][PHONE_NATIONAL_LEN + 1],
    size_t max, size_t *n)
{
	char buf[PHONE_FIELD_MAX + 1];
	size_t len, start = 0;

	*n = 0;
	if (field == NULL)
		return OV_OK;
	len = strnlen(field, PHONE_FIELD_MAX + 1);
	if (len > PHONE_FIELD_MAX)
		return OV_EINVAL;
	memcpy(buf, field, len);
	buf[len] = '\0';
	for (size_t i = 0; i + 2 < len; i++)
		if (word_separator(buf + i))
			buf[i + 1] = '/';
	for (size_t i = 0; i <= len; i++) {
		char c = buf[i];

		if (c != '\0' && c != '/' && c != ',' && c != ';' && c != '|' &&
		    c != '\n' && c != '\r')
			continue;
		buf[i] = '\0';
		if (i > start && *n < max &&
		    phone_to_national(buf + start, out[*n]) == OV_OK)
			(*n)++;
		start = i + 1;
	}
	return OV_OK;
}

bool
phone_field_matches(const char *field, const char *national)
{
	char nums[8][PHONE_NATIONAL_LEN + 1];
	size_t n;

	if (national == NULL ||
	    strnlen(national, PHONE_NATIONAL_LEN + 1) != PHONE_NATIONAL_LEN)
		return false;
	for (size_t i = 0; i < PHONE_NATIONAL_LEN; i++)
		if (national[i] < '0' || national[i] > '9')
			return false;
	if (!national_valid(national))
		return false;
	if (phone_field_numbers(field, nums, 8, &n) != OV_OK)
		return false;
	for (size_t i = 0; i < n; i++)
		if (memcmp(nums[i], national, PHONE_NATIONAL_LEN) == 0)
			return true;
	return false;
}
