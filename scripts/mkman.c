/* mkman: reservoir's man pages, made from the text they document, so that the two cannot
 * drift apart.
 *
 *   mkman header VERSION OUT.3 HEADER [SEE...]   section 3: one page for the API group a
 *                                          public header declares, from its comments (the
 *                                          pages of the headers SEE under SEE ALSO), and for
 *                                          each function a page that sources it (".so")
 *   mkman markdown VERSION OUT.1 DOC.md    section 1: a page from a document of docs/
 *   mkman check HEADER...                  every RSV_API function has a comment: exit 1 and
 *                                          the undocumented ones named otherwise
 *
 * A header's first comment is the page's description (its first sentence, after the
 * "reservoir/NAME.h:", is the NAME line). Each RSV_API declaration is documented by the
 * comment just above it, or by one on its own line; declarations that follow each other with
 * no blank line share the comment above the first. The markdown is the subset docs/ uses:
 * "#" headings, paragraphs, "-" lists, fenced code, `code` and **bold**. Built and run by
 * the build (CMakeLists.txt); nothing here is installed. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "mkman: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Text for roff: a backslash doubled as \e, a line that would start with a request escaped. */
static void roff_text(FILE *out, const char *s, size_t n, bool line_start)
{
	for (size_t i = 0; i < n; i++) {
		if (line_start && (s[i] == '.' || s[i] == '\''))
			fputs("\\&", out);
		line_start = false;
		if (s[i] == '\\')
			fputs("\\e", out);
		else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
			fputs("\\-", out); /* an option's "--" must stay two hyphens */
		else
			fputc(s[i], out);
		if (s[i] == '\n')
			line_start = true;
	}
}

/* ---- headers ---- */

struct decl {
	char *proto;     /* collapsed to one line, "RSV_API " dropped */
	char *name;      /* the function's */
	const char *doc; /* NULL: undocumented */
	int group;       /* declarations sharing one comment share a group */
};

struct header {
	const char *path, *include; /* "reservoir/mempool.h" */
	char *overview;             /* the first comment */
	struct decl d[MAX_ITEMS];
	int n;
	char *comments[MAX_ITEMS]; /* every comment's text, freed with the header */
	int ncomments;
};

static char *keep_comment(struct header *h, char *text)
{
	if (h->ncomments < MAX_ITEMS)
		h->comments[h->ncomments++] = text;
	return text;
}

static void free_header(struct header *h)
{
	for (int i = 0; i < h->n; i++) {
		free(h->d[i].proto);
		free(h->d[i].name);
	}
	for (int i = 0; i < h->ncomments; i++)
		free(h->comments[i]);
	h->n = h->ncomments = 0;
}

/* A comment's text without its delimiters and the leading " * " of each line. */
static char *comment_text(const char *start, const char *end)
{
	char *out = malloc((size_t)(end - start) + 1), *o = out;
	const char *p = start + 2;

	while (p < end - 2) {
		const char *eol = memchr(p, '\n', (size_t)(end - 2 - p));
		const char *stop = eol ? eol : end - 2;

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		if (p < stop && *p == '*' && !(p + 1 < stop && p[1] == '/'))
			p++;
		if (p < stop && *p == ' ')
			p++;
		memcpy(o, p, (size_t)(stop - p));
		o += stop - p;
		if (eol) {
			*o++ = '\n';
			p = eol + 1;
		} else {
			p = stop;
		}
	}
	while (o > out && (o[-1] == ' ' || o[-1] == '\n'))
		o--;
	*o = 0;
	return out;
}

/* The declaration at @p (its "RSV_API"), up to its ';': collapsed whitespace, comments cut
 * out, a trailing comment on its last line handed back in *@trail. Returns past the ';'. */
static const char *take_decl(const char *p, char **proto, char **trail)
{
	char *out = malloc(strlen(p) + 1), *o = out;
	const char *q = p + strlen("RSV_API");

	*trail = NULL;
	while (*q == ' ')
		q++;
	for (; *q && *q != ';'; q++) {
		if (q[0] == '/' && q[1] == '*') {
			const char *e = strstr(q + 2, "*/");

			q = e ? e + 1 : q + strlen(q) - 1;
			continue;
		}
		if (isspace((unsigned char)*q)) {
			if (o > out && o[-1] != ' ' && o[-1] != '(')
				*o++ = ' ';
			continue;
		}
		if (*q == ')' && o > out && o[-1] == ' ')
			o--;
		*o++ = *q;
	}
	*o++ = ';';
	*o = 0;
	*proto = out;
	if (*q == ';')
		q++;
	/* A comment after the ';' on the same line documents it. */
	while (*q == ' ' || *q == '\t')
		q++;
	if (q[0] == '/' && q[1] == '*') {
		const char *e = strstr(q + 2, "*/");

		if (e) {
			*trail = comment_text(q, e + 2);
			q = e + 2;
		}
	}
	return q;
}

static char *decl_name(const char *proto)
{
	const char *paren = strchr(proto, '('), *s;
	char *name;

	if (!paren)
		return strdup(proto);
	s = paren;
	while (s > proto && (isalnum((unsigned char)s[-1]) || s[-1] == '_'))
		s--;
	name = malloc((size_t)(paren - s) + 1);
	memcpy(name, s, (size_t)(paren - s));
	name[paren - s] = 0;
	return name;
}

static void parse_header(struct header *h, const char *path)
{
	char *src = slurp(path);
	const char *p = src, *inc = strstr(path, "include/");
	const char *pending = NULL; /* the comment that documents what comes next */
	int group = 0;
	bool joined = false; /* the last thing was a declaration: the next one shares */

	h->path = path;
	h->include = inc ? inc + strlen("include/") : path;
	h->n = h->ncomments = 0;
	h->overview = NULL;
	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *line = p, *t = p;

		if (!eol)
			eol = p + strlen(p);
		while (t < eol && (*t == ' ' || *t == '\t'))
			t++;
		if (t == eol) { /* a blank line ends whatever a comment documented */
			pending = NULL;
			joined = false;
			p = *eol ? eol + 1 : eol;
			continue;
		}
		if (t[0] == '/' && t[1] == '*') {
			const char *e = strstr(t + 2, "*/");
			char *text;

			if (!e)
				break;
			text = keep_comment(h, comment_text(t, e + 2));
			if (!h->overview)
				h->overview = text;
			else
				pending = text;
			joined = false;
			p = e + 2;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\n')
				p++;
			continue;
		}
		if (!strncmp(t, "RSV_API", 7) && h->n < MAX_ITEMS) {
			struct decl *d = &h->d[h->n++];
			char *trail;

			p = take_decl(t, &d->proto, &trail);
			if (trail)
				keep_comment(h, trail);
			d->name = decl_name(d->proto);
			if (!joined)
				group++;
			d->group = group;
			d->doc = trail ? trail : pending;
			if (trail) { /* its own comment: it neither shares nor passes one on */
				d->group = ++group;
				pending = NULL;
			}
			joined = !trail;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\n')
				p++;
			continue;
		}
		/* Anything else (a struct, a macro, an #include) ends the comment's reach, except
		 * the lines of a declaration already taken. */
		(void)line;
		pending = NULL;
		joined = false;
		p = *eol ? eol + 1 : eol;
	}
	free(src); /* what the header keeps was copied out */
}

/* "reservoir/mempool.h" -> "reservoir_mempool"; "reservoir.h" -> "reservoir". */
static void page_name(const char *include, char *out, size_t len)
{
	size_t k = 0;

	for (const char *s = include; *s && k + 1 < len; s++) {
		if (!strcmp(s, ".h"))
			break;
		out[k++] = *s == '/' ? '_' : *s;
	}
	out[k] = 0;
}

static void upper(const char *s, char *out, size_t len)
{
	size_t k = 0;

	for (; *s && k + 1 < len; s++)
		out[k++] = (char)toupper((unsigned char)*s);
	out[k] = 0;
}

/* Paragraphs of @text (blank lines apart) as roff; lines indented by two spaces or more (an
 * example, a table) are set as they are. */
static void roff_paragraphs(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *end = strstr(p, "\n\n");
		const char *stop = end ? end : p + strlen(p);
		bool nofill = false;

		fputs(".PP\n", out);
		while (p < stop) {
			const char *eol = memchr(p, '\n', (size_t)(stop - p));
			size_t n = eol ? (size_t)(eol - p) : (size_t)(stop - p);
			bool indented = n >= 2 && p[0] == ' ' && p[1] == ' ';

			if (indented != nofill)
				fputs(indented ? ".nf\n" : ".fi\n", out);
			nofill = indented;
			roff_text(out, p, n, true);
			fputc('\n', out);
			p += n + (eol ? 1 : 0);
		}
		if (nofill)
			fputs(".fi\n", out);
		while (*p == '\n')
			p++;
	}
}

static int man_header(const char *version, const char *outpath, const char *path, char **see,
		      int nsee)
{
	static struct header h;
	char name[128], NAME[128], desc[512];
	const char *colon, *ov;
	FILE *out;

	parse_header(&h, path);
	page_name(h.include, name, sizeof(name));
	upper(name, NAME, sizeof(NAME));
	ov = h.overview ? h.overview : "";
	/* "reservoir/x.h: what it is. More..." -> "what it is" (and "reservoir: ..."). */
	colon = strstr(ov, ": ");
	if (colon && !memchr(ov, ' ', (size_t)(colon - ov)))
		ov = colon + 2;
	while (*ov == ' ')
		ov++;
	{
		size_t k = 0;

		for (const char *s = ov; *s && k + 1 < sizeof(desc); s++) {
			if (*s == '.' && (s[1] == ' ' || s[1] == '\n' || !s[1]))
				break;
			desc[k++] = *s == '\n' ? ' ' : *s;
		}
		desc[k] = 0;
	}
	if (!(out = fopen(outpath, "w"))) {
		fprintf(stderr, "mkman: cannot write %s: %s\n", outpath, strerror(errno));
		free_header(&h);
		return 2;
	}
	fprintf(out, ".\\\" Made by scripts/mkman.c from %s: edit that, not this.\n", h.include);
	fprintf(out, ".TH %s 3 \"\" \"reservoir %s\" \"reservoir manual\"\n", NAME, version);
	fprintf(out, ".SH NAME\n%s \\- ", name);
	roff_text(out, desc, strlen(desc), false);
	fprintf(out, "\n.SH SYNOPSIS\n.nf\n.B #include <%s>\n", h.include);
	if (h.n) {
		fputs(".PP\n", out);
		for (int i = 0; i < h.n; i++) {
			roff_text(out, h.d[i].proto, strlen(h.d[i].proto), true);
			fputc('\n', out);
		}
	}
	fputs(".fi\n.PP\nLink with \\fB\\-lreservoir\\fR (pkg-config: \\fBreservoir\\fR).\n", out);
	fputs(".SH DESCRIPTION\n", out);
	roff_paragraphs(out, ov);
	if (h.n)
		fputs(".SH FUNCTIONS\n", out);
	for (int i = 0; i < h.n;) {
		int g = h.d[i].group, j;

		fputs(".PP\n.nf\n", out);
		for (j = i; j < h.n && h.d[j].group == g; j++) {
			fputs("\\fB", out);
			roff_text(out, h.d[j].proto, strlen(h.d[j].proto), false);
			fputs("\\fR\n", out);
		}
		fputs(".fi\n.RS\n", out);
		if (h.d[i].doc)
			roff_paragraphs(out, h.d[i].doc);
		else
			fputs(".PP\n(See the group's description above.)\n", out);
		fputs(".RE\n", out);
		i = j;
	}
	fputs(".SH SEE ALSO\n", out);
	for (int i = 0; i < nsee; i++) {
		char other[128];
		const char *oi = strstr(see[i], "include/");

		page_name(oi ? oi + strlen("include/") : see[i], other, sizeof(other));
		if (strcmp(other, name))
			fprintf(out, ".BR %s (3),\n", other);
	}
	if (strcmp(name, "reservoir"))
		fputs(".BR reservoir (3),\n", out);
	fputs(".BR reservoir (1)\n", out);
	if (fclose(out)) {
		free_header(&h);
		return 2;
	}
	/* man rsv_mempool_alloc: a page for each function that sources its group's. */
	for (int i = 0; i < h.n; i++) {
		const char *slash = strrchr(outpath, '/');
		char link[1024];
		FILE *f;

		snprintf(link, sizeof(link), "%.*s%s.3", slash ? (int)(slash - outpath + 1) : 0,
			 outpath, h.d[i].name);
		if (!(f = fopen(link, "w")) || fprintf(f, ".so man3/%s.3\n", name) < 0 ||
		    fclose(f)) {
			free_header(&h);
			return 2;
		}
	}
	free_header(&h);
	return 0;
}

static int check(int n, char **paths)
{
	static struct header h;
	int missing = 0, total = 0;

	for (int i = 0; i < n; i++) {
		parse_header(&h, paths[i]);
		for (int k = 0; k < h.n; k++, total++)
			if (!h.d[k].doc) {
				fprintf(stderr, "mkman: %s: %s has no comment\n", h.include,
					h.d[k].name);
				missing++;
			}
		free_header(&h);
	}
	if (missing)
		fprintf(stderr, "mkman: %d of %d public functions undocumented\n", missing, total);
	else
		printf("mkman: all %d public functions documented\n", total);
	return missing ? 1 : 0;
}

/* ---- markdown ---- */

/* One line's inline markup: `code` and **bold** in bold, [text](link) as its text. */
static void roff_inline(FILE *out, const char *s, size_t n, bool line_start)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		bool bold = s[i] == '`' || (s[i] == '*' && i + 1 < n && s[i + 1] == '*');

		if (bold) {
			size_t open = s[i] == '`' ? 1 : 2;
			const char *close = NULL;

			for (size_t k = i + open; k + open <= n; k++)
				if (!strncmp(s + k, s + i, open)) {
					close = s + k;
					break;
				}
			if (close) {
				fputs("\\fB", out);
				roff_text(out, s + i + open, (size_t)(close - s) - i - open,
					  line_start);
				fputs("\\fR", out);
				i = (size_t)(close - s) + open;
				line_start = false;
				continue;
			}
		}
		if (s[i] == '[') {
			const char *mid = memchr(s + i, ']', n - i);

			if (mid && (size_t)(mid - s) + 1 < n && mid[1] == '(') {
				const char *end = memchr(mid, ')', n - (size_t)(mid - s));

				if (end) {
					roff_text(out, s + i + 1, (size_t)(mid - s) - i - 1,
						  line_start);
					i = (size_t)(end - s) + 1;
					line_start = false;
					continue;
				}
			}
		}
		while (j < n && s[j] != '`' && s[j] != '*' && s[j] != '[')
			j++;
		if (j == i)
			j++;
		roff_text(out, s + i, j - i, line_start);
		line_start = false;
		i = j;
	}
}

static int man_markdown(const char *version, const char *outpath, const char *path)
{
	char *src = slurp(path), *p = src, title[128] = "";
	bool code = false, para = false, named = false;
	FILE *out;

	/* The title, "# reservoir(1): what it is", names the page. */
	if (sscanf(src, "# %127[^(]", title) != 1) {
		fprintf(stderr, "mkman: %s does not start with \"# NAME(SECTION): what\"\n", path);
		free(src);
		return 2;
	}
	if (!(out = fopen(outpath, "w"))) {
		fprintf(stderr, "mkman: cannot write %s: %s\n", outpath, strerror(errno));
		free(src);
		return 2;
	}
	{
		char NAME[128];

		upper(title, NAME, sizeof(NAME));
		fprintf(out, ".\\\" Made by scripts/mkman.c from %s: edit that, not this.\n", path);
		fprintf(out, ".TH %s 1 \"\" \"reservoir %s\" \"reservoir manual\"\n", NAME,
			version);
	}
	while (*p) {
		char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (!strncmp(p, "```", 3)) {
			fputs(code ? ".fi\n.RE\n" : ".PP\n.RS\n.nf\n", out);
			code = !code;
			para = false;
		} else if (code) {
			roff_text(out, p, n, true);
			fputc('\n', out);
		} else if (p[0] == '#' && !named) {
			const char *what = memchr(p, ':', n);

			fputs(".SH NAME\n", out);
			fprintf(out, "%s \\- ", title);
			if (what) {
				what++;
				while (*what == ' ')
					what++;
				roff_inline(out, what, n - (size_t)(what - p), false);
			}
			fputc('\n', out);
			named = true;
		} else if (p[0] == '#') {
			const char *h = p;
			char up[256];

			while (*h == '#')
				h++;
			while (*h == ' ')
				h++;
			snprintf(up, sizeof(up), "%.*s", (int)(n - (size_t)(h - p)), h);
			if (p[1] == '#' && p[2] == '#') {
				fputs(".SS ", out);
				roff_inline(out, up, strlen(up), false);
			} else {
				char U[256];

				upper(up, U, sizeof(U));
				fprintf(out, ".SH %s", U);
			}
			fputc('\n', out);
			para = false;
		} else if (n == 0) {
			para = false;
		} else if (!strncmp(p, "- ", 2)) {
			fputs(".IP \\(bu 2\n", out);
			roff_inline(out, p + 2, n - 2, true);
			fputc('\n', out);
			para = true;
		} else {
			if (!para)
				fputs(".PP\n", out);
			para = true;
			while (n && *p == ' ')
				p++, n--;
			roff_inline(out, p, n, true);
			fputc('\n', out);
		}
		p = eol ? eol + 1 : p + n;
	}
	free(src);
	return fclose(out) ? 2 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "header"))
		return man_header(argv[2], argv[3], argv[4], argv + 5, argc - 5);
	if (argc >= 5 && !strcmp(argv[1], "markdown"))
		return man_markdown(argv[2], argv[3], argv[4]);
	if (argc >= 3 && !strcmp(argv[1], "check"))
		return check(argc - 2, argv + 2);
	fprintf(stderr, "usage: mkman header VERSION OUT.3 HEADER [SEE...]\n"
			"       mkman markdown VERSION OUT.1 DOC.md\n"
			"       mkman check HEADER...\n");
	return 2;
}
