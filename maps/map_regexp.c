/*
 * NAME
 *	map_regexp - regexp: (POSIX ERE) and pcre: (PCRE2) tables
 * SYNOPSIS
 *	map_regexp_ops, map_pcre_ops (map_int.h)
 * DESCRIPTION
 *	The syntax of regexp_table(5) and pcre_table(5): rules
 *	"/pattern/flags result" and "!/pattern/flags result" (the first
 *	character after an optional '!' is the delimiter; a backslash
 *	escapes it), tried in file order, the first match wins; "if
 *	/pattern/flags" (or "if !/pattern/") ... "endif" blocks, nested;
 *	'#' comments and continuation lines as in every map file.
 *
 *	regexp: flags i (case-insensitive, on by default: toggles), x
 *	(extended syntax, on by default: toggles) and m (newline
 *	sensitive). pcre: flags i (on by default: toggles), m, s, x, A, E,
 *	U, X as in pcre_table(5).
 *
 *	The result may use $1..$9 (or ${1}..${9}) for the text matched by
 *	a group and $$ for a dollar sign; a group that did not take part
 *	in the match expands to nothing. Keys are matched as given (no
 *	folding: the i flag does that); in address lookups only the full
 *	address is tried.
 * DIAGNOSTICS
 *	A pattern that does not compile, a $n beyond the number of groups
 *	(or in a negated rule), a missing result, an unmatched endif or an
 *	unknown flag is logged with file, line and the rule is skipped;
 *	a missing endif is logged at the end of the file. A PCRE match
 *	error (match limit) counts as no match, as in Postfix.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "map_int.h"
#include "str.h"
#include "xalloc.h"

#define RULE_MATCH	1
#define RULE_IF		2
#define RULE_ENDIF	3

#define MAX_GROUPS	10

struct map_re_rule {
	int	 kind;
	int	 negate;
	int	 is_pcre;
	regex_t	 re;
	pcre2_code *pc;
	char	*result;
	size_t	 endif;		/* RULE_IF: index of its endif */
};

struct map_re {
	struct map_re_rule *rules;
	size_t	 count;
	size_t	 cap;
	pcre2_match_data *md;	/* pcre: reused (one thread per handle) */
};

/* map_re_pattern - split "[!]/pat/flags rest"; NULL text if ok */
static const char *
map_re_pattern(char **cpp, int *negate, char **pat, char **flags)
{
	char	*cp = *cpp, delim;

	*negate = 0;
	if (*cp == '!') {
		*negate = 1;
		cp++;
	}
	delim = *cp;
	if (delim == 0 || isspace((unsigned char) delim)
	    || isalnum((unsigned char) delim) || delim == '\\')
		return ("expected /pattern/");
	*pat = ++cp;
	for (; *cp && *cp != delim; cp++)
		if (*cp == '\\' && cp[1])
			cp++;
	if (*cp != delim)
		return ("missing closing pattern delimiter");
	*cp++ = 0;
	*flags = cp;
	cp += strcspn(cp, " \t");
	if (*cp)
		*cp++ = 0;
	*cpp = str_trim(cp);
	return (NULL);
}

/* map_re_max_ref - highest $n in a result, or -1 if malformed */
static int
map_re_max_ref(const char *s)
{
	int	 max = 0, n;

	for (; *s; s++) {
		if (*s != '$')
			continue;
		s++;
		if (*s == '$')
			continue;
		if (*s == '{' && isdigit((unsigned char) s[1]) && s[2] == '}') {
			n = s[1] - '0';
			s += 2;
		} else if (isdigit((unsigned char) *s))
			n = *s - '0';
		else
			return (-1);
		if (n > max)
			max = n;
	}
	return (max);
}

/* map_re_compile - compile with table flags; NULL text if ok */
static const char *
map_re_compile(struct map_re_rule *r, const char *pat, const char *flags,
    char *err, size_t errlen, int *nsub)
{
	if (r->is_pcre) {
		uint32_t opts = PCRE2_CASELESS, cap;
		int	 code;
		PCRE2_SIZE off;

		for (; *flags; flags++) {
			switch (*flags) {
			case 'i': opts ^= PCRE2_CASELESS; break;
			case 'm': opts ^= PCRE2_MULTILINE; break;
			case 's': opts ^= PCRE2_DOTALL; break;
			case 'x': opts ^= PCRE2_EXTENDED; break;
			case 'A': opts ^= PCRE2_ANCHORED; break;
			case 'E': opts ^= PCRE2_DOLLAR_ENDONLY; break;
			case 'U': opts ^= PCRE2_UNGREEDY; break;
			case 'X': break;
			default: return ("unknown pattern flag");
			}
		}
		r->pc = pcre2_compile((PCRE2_SPTR) pat, PCRE2_ZERO_TERMINATED,
		    opts, &code, &off, NULL);
		if (r->pc == NULL) {
			pcre2_get_error_message(code, (PCRE2_UCHAR *) err,
			    errlen);
			return (err);
		}
		pcre2_pattern_info(r->pc, PCRE2_INFO_CAPTURECOUNT, &cap);
		*nsub = (int) cap;
	} else {
		int	 cflags = REG_EXTENDED | REG_ICASE, rc;

		for (; *flags; flags++) {
			switch (*flags) {
			case 'i': cflags ^= REG_ICASE; break;
			case 'x': cflags ^= REG_EXTENDED; break;
			case 'm': cflags ^= REG_NEWLINE; break;
			default: return ("unknown pattern flag");
			}
		}
		if ((rc = regcomp(&r->re, pat, cflags)) != 0) {
			regerror(rc, &r->re, err, errlen);
			regfree(&r->re);
			return (err);
		}
		*nsub = (int) r->re.re_nsub;
	}
	return (NULL);
}

/* map_re_free_rule - release one rule */
static void
map_re_free_rule(struct map_re_rule *r)
{
	if (r->kind == RULE_ENDIF)
		return;
	if (r->is_pcre)
		pcre2_code_free(r->pc);
	else
		regfree(&r->re);
	free(r->result);
}

/* map_re_rule - parse one logical line; NULL text if ok */
static const char *
map_re_line(char *line, struct map_re_rule *r, char *err, size_t errlen)
{
	char	*cp = str_trim(line), *pat, *flags;
	const char *why;
	int	 nsub, refs;

	if (strncmp(cp, "endif", 5) == 0 && (cp[5] == 0 || isspace(
	    (unsigned char) cp[5]))) {
		r->kind = RULE_ENDIF;
		return (str_trim(cp + 5)[0] ? "text after endif" : NULL);
	}
	r->kind = RULE_MATCH;
	if (strncmp(cp, "if", 2) == 0 && isspace((unsigned char) cp[2])) {
		r->kind = RULE_IF;
		cp = str_trim(cp + 2);
	}
	if ((why = map_re_pattern(&cp, &r->negate, &pat, &flags)) != NULL)
		return (why);
	if (r->kind == RULE_IF && *cp)
		return ("text after if /pattern/");
	if (r->kind == RULE_MATCH && *cp == 0)
		return ("missing result after /pattern/");
	if ((refs = map_re_max_ref(cp)) < 0)
		return ("bad $ substitution in result");
	if ((why = map_re_compile(r, pat, flags, err, errlen, &nsub)) != NULL)
		return (why);
	if ((r->negate && refs > 0) || refs > nsub) {
		map_re_free_rule(r);
		return (r->negate ? "$number in the result of a negated pattern"
		    : "$number beyond the number of groups in the pattern");
	}
	if (r->kind == RULE_MATCH)
		r->result = xstrdup(cp);
	return (NULL);
}

/* map_re_add - append a rule */
static void
map_re_add(struct map_re *t, const struct map_re_rule *r)
{
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->rules = xrealloc(t->rules, t->cap * sizeof(*t->rules));
	}
	t->rules[t->count++] = *r;
}

/* map_re_open - read and compile every rule */
static int
map_re_open_common(struct map *m, int is_pcre)
{
	struct map_re *t;
	struct buf *b;
	FILE	*fp;
	int	 lineno = 0, first;
	size_t	 stack[64], depth = 0;
	char	 err[256];

	if ((fp = fopen(m->name, "r")) == NULL) {
		map_set_error(m, "%s: open %s: %s", m->spec, m->name,
		    strerror(errno));
		return (-1);
	}
	t = xcalloc(1, sizeof(*t));
	b = buf_new(128);
	while (map_text_logical(fp, b, &lineno, &first)) {
		struct map_re_rule r;
		const char *why;

		memset(&r, 0, sizeof(r));
		r.is_pcre = is_pcre;
		if (BUF_LEN(b) == 1 && BUF_STR(b)[0] == 0)
			why = "NUL byte in line";
		else
			why = map_re_line(BUF_STR(b), &r, err, sizeof(err));
		if (why == NULL && r.kind == RULE_ENDIF && depth == 0)
			why = "endif without matching if";
		if (why == NULL && r.kind == RULE_IF
		    && depth == sizeof(stack) / sizeof(stack[0])) {
			map_re_free_rule(&r);
			why = "if nesting too deep";
		}
		if (why) {
			log_warn("%s, line %d: %s, skipping this rule",
			    m->name, first, why);
			continue;
		}
		if (r.kind == RULE_IF)
			stack[depth++] = t->count;
		else if (r.kind == RULE_ENDIF)
			t->rules[stack[--depth]].endif = t->count;
		map_re_add(t, &r);
	}
	if (depth > 0) {
		log_warn("%s, line %d: missing endif", m->name, lineno);
		while (depth > 0) {
			struct map_re_rule r;

			memset(&r, 0, sizeof(r));
			r.kind = RULE_ENDIF;
			t->rules[stack[--depth]].endif = t->count;
			map_re_add(t, &r);
		}
	}
	buf_free(b);
	fclose(fp);
	if (is_pcre)
		t->md = pcre2_match_data_create(MAX_GROUPS, NULL);
	m->priv = t;
	return (0);
}

/* map_re_exec - match one rule; offsets in so/eo; -1 on no match */
static int
map_re_exec(struct map_re *t, struct map_re_rule *r, const char *key,
    long *so, long *eo)
{
	int	 i;

	for (i = 0; i < MAX_GROUPS; i++)
		so[i] = eo[i] = -1;
	if (r->is_pcre) {
		pcre2_match_data *md = t->md;
		PCRE2_SIZE *ov;
		int	 rc, n;

		rc = pcre2_match(r->pc, (PCRE2_SPTR) key, strlen(key), 0, 0,
		    md, NULL);
		if (rc == 0)
			rc = MAX_GROUPS;
		if (rc > 0) {
			ov = pcre2_get_ovector_pointer(md);
			for (n = 0; n < rc && n < MAX_GROUPS; n++)
				if (ov[2 * n] != PCRE2_UNSET) {
					so[n] = (long) ov[2 * n];
					eo[n] = (long) ov[2 * n + 1];
				}
		}
		return (rc > 0 ? 0 : -1);
	} else {
		regmatch_t pm[MAX_GROUPS];

		if (regexec(&r->re, key, MAX_GROUPS, pm, 0) != 0)
			return (-1);
		for (i = 0; i < MAX_GROUPS; i++) {
			so[i] = pm[i].rm_so;
			eo[i] = pm[i].rm_eo;
		}
		return (0);
	}
}

/* map_re_expand - substitute $n in the result */
static char *
map_re_expand(const char *res, const char *key, const long *so,
    const long *eo)
{
	struct buf *b = buf_new(strlen(res) + 16);
	int	 n;

	for (; *res; res++) {
		if (*res != '$') {
			buf_putc(b, *res);
			continue;
		}
		res++;
		if (*res == '$') {
			buf_putc(b, '$');
			continue;
		}
		if (*res == '{') {
			n = res[1] - '0';
			res += 2;
		} else
			n = *res - '0';
		if (so[n] >= 0 && eo[n] >= so[n])
			buf_append(b, key + so[n], eo[n] - so[n]);
	}
	return (buf_steal(b));
}

/* map_re_lookup - first matching rule wins; if/endif skip blocks */
static int
map_re_lookup(struct map *m, const char *key, char **value)
{
	struct map_re *t = m->priv;
	long	 so[MAX_GROUPS], eo[MAX_GROUPS];
	size_t	 i;
	int	 hit;

	for (i = 0; i < t->count; i++) {
		struct map_re_rule *r = &t->rules[i];

		if (r->kind == RULE_ENDIF)
			continue;
		hit = (map_re_exec(t, r, key, so, eo) == 0) != r->negate;
		if (r->kind == RULE_IF) {
			if (!hit)
				i = r->endif;
			continue;
		}
		if (hit) {
			*value = r->negate ? xstrdup(r->result)
			    : map_re_expand(r->result, key, so, eo);
			return (MAP_FOUND);
		}
	}
	return (MAP_NOTFOUND);
}

/* map_re_close - free all rules */
static void
map_re_close(struct map *m)
{
	struct map_re *t = m->priv;
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->count; i++)
		map_re_free_rule(&t->rules[i]);
	free(t->rules);
	pcre2_match_data_free(t->md);
	free(t);
	m->priv = NULL;
}

/* map_regexp_open - POSIX flavour */
static int
map_regexp_open(struct map *m)
{
	return (map_re_open_common(m, 0));
}

/* map_pcre_open - PCRE2 flavour */
static int
map_pcre_open(struct map *m)
{
	return (map_re_open_common(m, 1));
}

const struct map_ops map_regexp_ops = {
	"regexp", MAP_OPS_FILE | MAP_OPS_PATTERN, NULL, map_regexp_open,
	map_re_lookup, NULL, map_re_close,
};
const struct map_ops map_pcre_ops = {
	"pcre", MAP_OPS_FILE | MAP_OPS_PATTERN, NULL, map_pcre_open,
	map_re_lookup, NULL, map_re_close,
};
