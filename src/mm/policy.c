/* Policy keys and values: names, parsing of "key=value,..." and the canonical spelling. */
#include <stdio.h>
#include <string.h>
#include "mm/internal.h"

#define MAX_VALUES 6

static const struct {
	const char *key;
	const char *alias; /* an earlier name, still read, never written */
	const char *values[MAX_VALUES + 1];
} policy_table[RSV_NR_POLICY_KEYS] = {
	[RSV_POLICY_MEMPOOL] = { "mempool",
				 NULL,
				 { "upstream", "revert", "2016", "memdie-only", "no-direct-reclaim",
				   "pool-first" } },
	[RSV_POLICY_THROTTLE] = { "throttle",
				  NULL,
				  { "reclaim-throttle", "throttle-vm-writeout",
				    "less-throttle-exempt" } },
	[RSV_POLICY_BUFIO] = { "bufio", NULL, { "workqueue", "gfp-fs", "gfp-io" } },
	[RSV_POLICY_LOOP] = { "loop", NULL, { "noio", "plain" } },
	[RSV_POLICY_OOM] = { "oom", NULL, { "reaper", "no-reaper" } },
	[RSV_POLICY_MEMDIE] = { "memdie", NULL, { "partial", "full" } },
	/* Critical-section reservations. The key was first spelt "reserve", the word that also
	 * names the zones' reserves and a mempool's elements; that spelling is still read. */
	[RSV_POLICY_RESERVATION] = { "reservation",
				     "reserve",
				     { "watermarks", "global-pool", "per-thread" } },
	[RSV_POLICY_IOWAIT] = { "iowait", NULL, { "timed-repoll", "completion-only" } },
	[RSV_POLICY_IOFLUSHER] = { "ioflusher", NULL, { "every-worker", "late-cleared" } },
	[RSV_POLICY_POOLSHARE] = { "poolshare", NULL, { "oldest-first", "own-channel" } },
};

unsigned rsv_policy_nr_values(enum rsv_policy_key k)
{
	unsigned n = 0;

	if ((unsigned)k >= RSV_NR_POLICY_KEYS)
		return 0;
	while (policy_table[k].values[n])
		n++;
	return n;
}

const char *rsv_policy_key_name(enum rsv_policy_key k)
{
	return (unsigned)k < RSV_NR_POLICY_KEYS ? policy_table[k].key : NULL;
}

const char *rsv_policy_value_name(enum rsv_policy_key k, unsigned v)
{
	return v < rsv_policy_nr_values(k) ? policy_table[k].values[v] : NULL;
}

static int lookup_key(const char *word, size_t len)
{
	for (int k = 0; k < RSV_NR_POLICY_KEYS; k++) {
		const char *alias = policy_table[k].alias;

		if ((strlen(policy_table[k].key) == len &&
		     !strncmp(policy_table[k].key, word, len)) ||
		    (alias && strlen(alias) == len && !strncmp(alias, word, len)))
			return k;
	}
	return -1;
}

static int lookup_value(int k, const char *word, size_t len)
{
	for (unsigned v = 0; v < rsv_policy_nr_values(k); v++)
		if (strlen(policy_table[k].values[v]) == len &&
		    !strncmp(policy_table[k].values[v], word, len))
			return (int)v;
	return -1;
}

static void list_choices(char *err, size_t errlen, size_t used, int k)
{
	for (int i = 0; k < 0 ? i < RSV_NR_POLICY_KEYS : i < (int)rsv_policy_nr_values(k); i++) {
		const char *w = k < 0 ? policy_table[i].key : policy_table[k].values[i];
		int n;

		if (used >= errlen)
			return;
		n = snprintf(err + used, errlen - used, "%s%s", i ? ", " : "", w);
		used += n > 0 ? (size_t)n : 0;
	}
}

static int parse_error(char *err, size_t errlen, int k, const char *what, const char *word,
		       size_t len)
{
	int n;

	if (!err || !errlen)
		return -EINVAL;
	n = snprintf(err, errlen, "unknown policy %s '%.*s' (valid: ", what, (int)len, word);
	list_choices(err, errlen, n > 0 ? (size_t)n : 0, k);
	if (strlen(err) + 2 < errlen)
		strcat(err, ")");
	return -EINVAL;
}

/* "key=value[,key=value...]". Every word is checked before @p changes: a bad one leaves
 * @p as it was. An empty text, an empty item (",," or a trailing ',') and a key given twice
 * are errors, as a typo must not pass for a choice. */
int rsv_policy_parse(struct rsv_policy *p, const char *text, char *err, size_t errlen)
{
	struct rsv_policy out = *p;
	bool seen[RSV_NR_POLICY_KEYS] = { false };
	const char *s = text;

	if (!s)
		return -EINVAL;
	for (;;) {
		size_t len = strcspn(s, ",");
		const char *eq = memchr(s, '=', len);
		int k, v;

		if (!len) {
			if (err && errlen)
				snprintf(err, errlen, "empty item in policy '%s' (want key=value, "
					 "separated by single commas)", text);
			return -EINVAL;
		}
		if (!eq)
			return parse_error(err, errlen, -1, "key=value", s, len);
		k = lookup_key(s, (size_t)(eq - s));
		if (k < 0)
			return parse_error(err, errlen, -1, "key", s, (size_t)(eq - s));
		v = lookup_value(k, eq + 1, len - (size_t)(eq - s) - 1);
		if (v < 0)
			return parse_error(err, errlen, k, policy_table[k].key, eq + 1,
					   len - (size_t)(eq - s) - 1);
		if (seen[k]) {
			if (err && errlen)
				snprintf(err, errlen, "policy key '%s' given twice in '%s'",
					 policy_table[k].key, text);
			return -EINVAL;
		}
		seen[k] = true;
		out.value[k] = (unsigned char)v;
		s += len;
		if (!*s)
			break;
		s++; /* the ',': an item must follow */
	}
	*p = out;
	return 0;
}

int rsv_policy_format(const struct rsv_policy *p, char *buf, size_t len)
{
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (int k = 0; k < RSV_NR_POLICY_KEYS; k++) {
		size_t off = (size_t)n < len ? (size_t)n : len;

		n += snprintf(buf + off, len - off, "%s%s=%s", k ? "," : "", policy_table[k].key,
			      rsv_policy_value_name(k, p->value[k]) ?: "?");
	}
	return n;
}
