# test_attacks.py: exoauthd under attack from an allowed local peer (issue
# 11): a crash must not leave secrets on disk, bursts of pipelined requests
# must not grow the stack, slow or idle peers are closed, one uid cannot
# take every connection, and memory and the log stay bounded. Each attack
# also checks that a well-behaved client keeps being served.
import os
import resource
import signal
import subprocess

import pytest

from conftest import cert_daemon

CID = "22222222-2222-3333-4444-000000000011"


@pytest.fixture
def daemon(tmp_root, fresh_idp, daemons):
    """A daemon with one certificate account, token already cached."""
    dm = cert_daemon(tmp_root, fresh_idp, CID, "allow_users = daemon\n", start=False)
    daemons.append(dm)
    return dm


def unlimited_cores():
    """preexec_fn: allow core files of any size, as a careless shell would."""
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def cores_in(path):
    """Core files the kernel wrote in path."""
    return [n for n in os.listdir(path) if n == "core" or n.startswith("core.")]


def control_dumps(path):
    """True when a process crashed in path leaves a core there (so the test
    below can see one), as the kernel's core_pattern decides."""
    p = subprocess.Popen(["sleep", "30"], cwd=path, preexec_fn=unlimited_cores)
    p.send_signal(signal.SIGSEGV)
    p.wait(timeout=10)
    found = cores_in(path)
    for n in found:
        os.unlink(os.path.join(path, n))
    return bool(found)


def core_limit(pid):
    """The soft core-size limit of a running process, from /proc."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4]
    raise AssertionError("no core limit in /proc/%d/limits" % pid)


def test_no_core_limit_even_when_started_with_unlimited(daemon):
    d = daemon.start(cwd=daemon.dir, preexec_fn=unlimited_cores)
    assert core_limit(d.proc.pid) == "0"


def test_crash_leaves_no_core_with_secrets(daemon):
    crashdir = os.path.join(daemon.dir, "crash")
    os.mkdir(crashdir)
    if not control_dumps(crashdir):
        pytest.skip("this kernel's core_pattern does not write cores to the working directory")
    d = daemon.start(cwd=crashdir, preexec_fn=unlimited_cores)
    assert d.token()[0] == "OK"  # a token and the private key are in memory now
    assert d.kill(signal.SIGSEGV) == -signal.SIGSEGV
    assert cores_in(crashdir) == []
