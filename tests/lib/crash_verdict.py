"""crash_verdict.py - what the stream-and-kill tests (61, 68) count.

    import crash_verdict as cv
    seen = cv.maildirs(BASE)     # {'a': {id: copies}, 'b': {...}}
    cls = cv.classes(OUTCOMES)   # {id: 'acked'|'lost-after-dot'|'not-sent'}
    cv.check(name, bad)          # prints "ok NAME" or "not NAME: ids"

maildirs() reads every file of BASE/a/new and BASE/b/new and counts the
copies of each message by the "<crash.ID@61>" Message-ID that
tests/lib/crash_load.py writes; classes() reads crash_load.py's outcome
file: a 250 after the dot is acked, a connection lost at the dot is
lost-after-dot (the client cannot know), anything else was never sent
(refused, or cut before the dot). check() prints one verdict line the
test turns into a TAP check.
"""
import os
import re


def maildirs(base):
    seen = {'a': {}, 'b': {}}
    for r in seen:
        d = os.path.join(base, r, 'new')
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), 'rb') as f:
                m = re.search(rb'^Message-ID: <crash\.(\w+)@61>', f.read(),
                              re.M | re.I)
            k = m.group(1).decode() if m else '(none:%s)' % name
            seen[r][k] = seen[r].get(k, 0) + 1
    return seen


def classes(outfile):
    cls = {}
    for line in open(outfile):
        f = line.split()
        cls[f[0]] = 'acked' if f[3] == 'acked' else \
            'lost-after-dot' if f[3] == 'lost' and f[4] == 'dot' \
            else 'not-sent'
    return cls


def check(name, bad):
    print('%s %s%s' % ('ok' if not bad else 'not', name,
                       '' if not bad else ': ' + ' '.join(sorted(bad)[:10])))
