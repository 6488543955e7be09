/*
 * NAME
 *	map_text_test - the map source parser (postmap and aliases(5)
 *	formats) on ordinary and hostile input
 */
#include "buf.h"
#include "map_int.h"
#include "map_testutil.h"

static const struct {
	const char *name;
	int	 how;
	const char *in;
	size_t	 len;		/* 0: strlen(in) */
	const char *want;	/* "key=value|..." */
	int	 bad;
} vec[] = {
	{"kv basic", MAP_TEXT_KV, "a b\nc  d e\n", 0, "a=b|c=d e", 0},
	{"kv tab", MAP_TEXT_KV, "a\tb\n", 0, "a=b", 0},
	{"kv continuation", MAP_TEXT_KV, "a b\n c\n\td\n", 0, "a=b c\td", 0},
	{"kv comment between", MAP_TEXT_KV, "a b\n  # x\n c\n", 0, "a=b c", 0},
	{"kv empty line ends", MAP_TEXT_KV, "a b\n\n c\n", 0, "a=b", 1},
	{"kv no value", MAP_TEXT_KV, "lonely\nx y\n", 0, "x=y", 1},
	{"kv blanks after key", MAP_TEXT_KV, "k   \n", 0, "", 1},
	{"kv CRLF", MAP_TEXT_KV, "a b\r\nc d\r\n", 0, "a=b|c=d", 0},
	{"kv bare CR inside", MAP_TEXT_KV, "a b\rc\n", 0, "a=b\rc", 0},
	{"kv no final newline", MAP_TEXT_KV, "a b", 0, "a=b", 0},
	{"kv empty input", MAP_TEXT_KV, "", 0, "", 0},
	{"kv only comments", MAP_TEXT_KV, "# x\n#\n   #y\n", 0, "", 0},
	{"kv NUL in line", MAP_TEXT_KV, "a b\0c\nd e\n", 10, "d=e", 1},
	{"kv 8-bit", MAP_TEXT_KV, "\xff\xfe v\xe9\n", 0, "\xff\xfe=v\xe9", 0},
	{"kv unbalanced <>", MAP_TEXT_KV, "<a b>\n", 0, "<a=b>", 0},
	{"kv quoted key", MAP_TEXT_KV, "\"a b\" c\n", 0, "a b=c", 0},
	{"kv quoted escapes", MAP_TEXT_KV, "\"a\\\"\\\\b\" c\n", 0,
	"a\"\\b=c", 0},
	{"kv quoted unbalanced", MAP_TEXT_KV, "\"a b c\n", 0, "", 1},
	{"kv quoted empty", MAP_TEXT_KV, "\"\" c\n", 0, "", 1},
	{"kv quoted no value", MAP_TEXT_KV, "\"a b\"\n", 0, "", 1},
	{"kv quoted glued", MAP_TEXT_KV, "\"a\"b c\n", 0, "", 1},
	{"alias basic", MAP_TEXT_ALIAS, "root: a, b\n", 0, "root=a, b", 0},
	{"alias continuation", MAP_TEXT_ALIAS, "root: a,\n\tb\n", 0,
	"root=a,\tb", 0},
	{"alias quoted name", MAP_TEXT_ALIAS, "\"x y\": z\n", 0, "x y=z", 0},
	{"alias quoted unbalanced", MAP_TEXT_ALIAS, "\"x y: z\n", 0, "", 1},
	{"alias quote without colon", MAP_TEXT_ALIAS, "\"x\" z\n", 0, "", 1},
	{"alias no colon", MAP_TEXT_ALIAS, "root a\n", 0, "", 1},
	{"alias empty name", MAP_TEXT_ALIAS, ": a\n", 0, "", 1},
	{"alias empty value", MAP_TEXT_ALIAS, "root:\n", 0, "", 1},
	{"alias value with colons", MAP_TEXT_ALIAS, "x: :include:/f\n", 0,
	"x=:include:/f", 0},
	{"alias command", MAP_TEXT_ALIAS, "x: \"|/bin/cmd arg\"\n", 0,
	"x=\"|/bin/cmd arg\"", 0},
	{"alias blanks before colon", MAP_TEXT_ALIAS, "x  : y\n", 0, "x=y", 0},
};

/* collect - append "key=value" */
static int
collect(const char *file, int line, char *key, char *value, void *ctx)
{
	struct buf *b = ctx;

	if (BUF_LEN(b))
		buf_putc(b, '|');
	buf_printf(b, "%s=%s", key, value);
	return (0);
}

int
main(void)
{
	struct buf *b = buf_new(64);
	size_t	 i, len;
	char	*huge;
	FILE	*fp;
	int	 bad;

	log_init("map_text_test", 0);
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		len = vec[i].len ? vec[i].len : strlen(vec[i].in);
		buf_reset(b);
		fp = fmemopen((void *) vec[i].in, len ? len : 1, "r");
		if (len == 0)
			(void) getc(fp);	/* fmemopen needs size > 0 */
		bad = map_text_read(fp, "t", vec[i].how, collect, b);
		fclose(fp);
		tap_is_str(BUF_STR(b), vec[i].want, vec[i].name);
		tap_is_int(bad, vec[i].bad, vec[i].name);
	}

	/* A 1 MB logical line: parsed, not truncated. */
	huge = xmalloc((1 << 20) + 8);
	memcpy(huge, "k ", 2);
	memset(huge + 2, 'v', 1 << 20);
	huge[(1 << 20) + 2] = '\n';
	fp = fmemopen(huge, (1 << 20) + 3, "r");
	buf_reset(b);
	tap_is_int(map_text_read(fp, "t", MAP_TEXT_KV, collect, b), 0,
	    "1 MB line parses");
	tap_is_int((long) BUF_LEN(b), (1 << 20) + 2, "1 MB value intact");
	fclose(fp);
	free(huge);
	buf_free(b);
	return (tap_done());
}
