#!/usr/bin/python3
"""02-port-ranges.t - every test file's loopback ports are its own.

make check runs two test files at once (prove -j2), so each file that
listens on a fixed loopback port names its range in its header ("Ports
A-B." or "Ports A-B and C-D.", tests/lib/freeport.sh) and no two files
name overlapping ranges. This test reads tests/*.t and tests/bench/*.sh
(bench/run.sh and bench/profile.sh may run next to make check) and checks:
  - the declared ranges of two different files do not overlap;
  - every port a file takes by number is inside its declared ranges:
    free_port FIRST LAST (shell) and free_port(FIRST, LAST) (Python),
    BASE + (PID % N) * W (W ports a slot) and BASE + PID % N, and
    PORT = NNNNN; a bench script declares nothing, its ports reserve
    themselves.
Ports 0-1023, the seed's 25 and 587, and the kernel's ephemeral ports
(bind to port 0) are not numbers in 20000-29999 and are not checked
here. First a planted pair (an overlap and a port outside its file's
range) must be reported, so the checks below can fail. No port is
opened. Ports none (a static check).
"""
import glob
import os
import re
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
from ptap import ok, done  # noqa: E402

TOP = os.environ.get('POSTERN_TOP',
                     os.path.dirname(os.path.dirname(os.path.abspath(
                         __file__))))

DECL = re.compile(r'(?i)\bports?\b[^0-9]{0,12}'
                  r'((?:\d{4,5}-\d{4,5}(?:,? (?:and )?)?)+)')
RANGE = re.compile(r'(\d{4,5})-(\d{4,5})')
FREE = re.compile(r'free_port[ (]+(\d{4,5})[ ,]+(\d{4,5})')
SLOT = re.compile(r'(\d{5}) \+ \(?(?:\$\$|os\.getpid\(\)) % (\d+)\)?'
                  r'(?: \* (\d+))?')
FIXED = re.compile(r'\b[A-Z_]*PORT\s*=\s*(\d{5})\b')


def declared(text):
    """the ranges a file's text names"""
    rs = []
    for m in DECL.finditer(text):
        rs += [(int(a), int(b)) for a, b in RANGE.findall(m.group(1))]
    return rs


def used(text):
    """(first, last, how) of every port range the code takes by number"""
    us = [(int(a), int(b), m.group(0))
          for m in FREE.finditer(text) for a, b in [m.groups()]]
    for m in SLOT.finditer(text):
        base, n, w = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        us.append((base, base + (n - 1) * w + w - 1, m.group(0)))
    us += [(int(p), int(p), m.group(0))
           for m in FIXED.finditer(text) for p in [m.group(1)]]
    return us


def problems(files):
    """files: {name: text}; the list of what is wrong"""
    out, owners = [], []
    for name, text in sorted(files.items()):
        rs = declared(text)
        for first, last, how in used(text):
            if not any(a <= first and last <= b for a, b in rs):
                if rs or not name.endswith('.sh'):
                    out.append('%s: %s takes %d-%d, outside its ports %s'
                               % (name, how, first, last, rs or 'none'))
                else:
                    owners.append((first, last, name))
        owners += [(a, b, name) for a, b in rs]
    owners.sort()
    for i, (a, b, n) in enumerate(owners):
        for c, d, m in owners[i + 1:]:
            if c > b:
                break
            if m != n:
                out.append('%s %d-%d overlaps %s %d-%d' % (n, a, b, m, c, d))
    return out


# the planted pair: one overlap, one port outside its file's range (the
# numbers are formatted in, so that this file's text declares nothing)
planted = problems({
    'a.t': '# Ports %d-%d.\nP=$(free_port %d %d)\n' % (30000, 30019,
                                                       30000, 30009),
    'b.t': '# Ports %d-%d.\nP=$(free_port %d %d)\n' % (30010, 30029,
                                                       30030, 30039),
    'c.sh': 'PORT=%d\n' % 30100,
})
ok(len(planted) == 2
   and any('b.t: free_port %d %d takes' % (30030, 30039) in p
           for p in planted)
   and any('a.t 30000-30019 overlaps b.t 30010-30029' in p
           for p in planted),
   'a planted overlap and a port outside its range are reported',
   '\n'.join(planted))

files = {}
for path in (sorted(glob.glob(os.path.join(TOP, 'tests', '*.t')))
             + sorted(glob.glob(os.path.join(TOP, 'tests', 'bench',
                                             '*.sh')))):
    with open(path, errors='replace') as f:
        files[os.path.relpath(path, TOP)] = f.read()
ok(len(files) > 50, 'the test files are read (%d)' % len(files))
n = sum(1 for t in files.values() if declared(t))
ok(n > 50, 'most files declare their ports (%d)' % n)
found = problems(files)
ok(not found, 'no two files share a port range, and no file takes a '
   'port outside its own', '\n'.join(found))
sys.exit(done())
