#!/usr/bin/python3
"""02-param-names.t - every parameter name the code asks for is known.

conf_str("name") and its siblings return "" (or the fallback the caller
chose) for a name lib/params.c does not list, so a misspelt name is a
silent bug: the daemon runs with the wrong value and postconf/postern
check cannot see it. This test scans every product .c file (every
top-level folder but tests/, build/, etc/, tools/ and run/; not the
*_test.c files) for the names the code asks for:

  - the string literals in the argument of conf_str, conf_int,
    conf_time, conf_bool, conf_list, conf_raw, conf_default,
    conf_file_value and conf_known calls (a call may span lines; a
    "a" : "b" choice yields both names);
  - the first argument of the typed parameter table entries CONF_INT,
    CONF_LONG, CONF_TIME, CONF_BOOL and CONF_STR (lib/conf.h), which
    the daemons load once at start;

and fails naming file:line for each one that `postconf -d` (the list
lib/params.c builds) does not print. conf_table_load() also refuses an
unknown table name at run time (log_panic), but only in the program
that reaches it: this test catches it before any program runs.

It first proves the scanner can fail: a planted misspelt name in a
call, in a split call and in a table entry must each be reported.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
from ptap import ok, done  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = {'tests', 'build', 'etc', 'tools', 'run'}  # not product code

CALL = re.compile(r'\bconf_(?:str|int|time|bool|list|raw|default|'
                  r'file_value|known)\s*\(')
TABLE = re.compile(r'\bCONF_(?:INT|LONG|TIME|BOOL|STR)\s*\(\s*"([^"]*)"')
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def call_args(text, start):
    """The argument text of the call whose '(' ends at start."""
    depth, i = 1, start
    while i < len(text) and depth:
        c = text[i]
        if c == '"':
            m = LITERAL.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
        i += 1
    return text[start:i - 1]


def names_in(text):
    """(name, line) for each parameter name text asks for."""
    out = []
    for m in CALL.finditer(text):
        line = text.count('\n', 0, m.start()) + 1
        for lit in LITERAL.finditer(call_args(text, m.end())):
            out.append((lit.group(1), line))
    for m in TABLE.finditer(text):
        out.append((m.group(1), text.count('\n', 0, m.start()) + 1))
    return out


def unknown(files, known):
    bad, seen = [], 0
    for path in files:
        with open(path, encoding='latin-1') as f:
            text = f.read()
        for name, line in names_in(text):
            seen += 1
            if name not in known:
                bad.append('%s:%d: %s' % (os.path.relpath(path, TOP),
                                          line, name))
    return bad, seen


conf = tempfile.mkdtemp(prefix='param-names.')
p = subprocess.run([os.path.join(BIN, 'postconf'), '-c', conf, '-d'],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   universal_newlines=True)
os.rmdir(conf)
known = set(line.split(' =', 1)[0] for line in p.stdout.splitlines()
            if ' =' in line)
ok(p.returncode == 0 and len(known) > 300,
   'postconf -d lists the known parameters (%d)' % len(known), p.stderr)
ok('smtpd_recipient_limit' in known and 'smtpd_recipent_limit' not in known,
   'the list has a real name and not its misspelling')

# The scanner can fail: plant misspelt names the three ways code asks.
plant = tempfile.NamedTemporaryFile('w', suffix='.c', delete=False)
plant.write('x = conf_int("smtpd_recipent_limit");\n'
            'y = conf_bool(lmtp ? "lmtp_tls_note" :\n'
            '    "smtp_tls_note");\n'
            'CONF_TIME("smtpd_timeout", &t, 1, 0),\n'
            'CONF_INT( "qmgr_mesage_active_limit", &n, 1, 0),\n')
plant.close()
bad, _ = unknown([plant.name], known)
os.unlink(plant.name)
want = ['smtpd_recipent_limit', 'lmtp_tls_note', 'smtp_tls_note',
        'qmgr_mesage_active_limit']
got = [b.split(': ', 1)[1] for b in bad]
ok(got == want, 'a planted misspelt name is reported (call, split '
   'call, ternary, table entry)', 'got %r, want %r' % (got, want))
ok([b.split(':')[1] for b in bad] == ['1', '2', '2', '5'],
   'the report names the line of the call', '\n'.join(bad))

files = []
for d in sorted(os.listdir(TOP)):
    top = os.path.join(TOP, d)
    if d.startswith('.') or d in SKIP or not os.path.isdir(top):
        continue
    for root, _, names in os.walk(top):
        files += [os.path.join(root, n) for n in sorted(names)
                  if n.endswith('.c') and not n.endswith('_test.c')
                  and '/tests' not in root]
bad, seen = unknown(sorted(files), known)
ok(seen > 150, 'the scan found the code\'s parameter names (%d uses in '
   '%d files)' % (seen, len(files)))
ok(not bad, 'every parameter name the code asks for is in lib/params.c',
   '\n'.join(bad))
sys.exit(done())
