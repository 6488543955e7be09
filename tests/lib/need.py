"""need.py - checks that need root or a program: run, fail or skip.

    from need import need_root, need_prog

    if need_root(2, 'an unprivileged user can drop mail'):
        ok(...)
        ok(...)

The Python twin of need.sh. need_root(n, what) and need_prog(n, path,
what) return True when the condition holds (the block then runs its n
checks). Otherwise they account for the n checks in the TAP output and
return False, so the plan never depends on the environment and nothing
vanishes silently:
  - under make check (POSTERN_CHECK=1, or CI=true), where every check
    must run: n "not ok" lines (ptap.ok(False, ...)) naming the reason;
  - otherwise (prove by hand): n "ok N # SKIP" lines with the reason.
"""
import os
import pwd
import sys

import ptap


def strict():
    """True under make check or CI: checks must run or fail."""
    return (os.environ.get('POSTERN_CHECK') == '1' or
            os.environ.get('CI') == 'true')


def skip(n, what, why):
    """Account for n checks of `what` that cannot run; returns False."""
    for _ in range(n):
        if strict():
            ptap.ok(False, '%s (not run: %s)' % (what, why),
                    'make check must run this check: ' + why)
        else:
            ptap._count += 1
            print('ok %d # SKIP %s: %s' % (ptap._count, what, why))
            sys.stdout.flush()
    return False


def need_root(n, what):
    """n checks that need root."""
    if os.geteuid() == 0:
        return True
    return skip(n, what, 'needs root (runs as %s)'
                % pwd.getpwuid(os.geteuid()).pw_name)


def need_prog(n, path, what):
    """n checks that need the executable path (or a link to one)."""
    if os.access(path, os.X_OK):
        return True
    return skip(n, what, 'no executable ' + path)


def user_copy(prog, where):
    """A copy of prog in the directory `where` that any user may run.

    A checkout in root's home (0700 on Debian) cannot be entered by
    nobody, while an installed /usr/sbin/sendmail always can: tests that
    run a program as another user run this copy (`where` must be
    reachable by that user)."""
    import shutil
    dst = os.path.join(where, os.path.basename(prog))
    shutil.copy(prog, dst)
    os.chmod(dst, 0o755)
    return dst
