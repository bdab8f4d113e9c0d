# test_credfiles.py: the one rule for credential files (src/core/credfile.hh)
# end to end: exoauthd refuses to start, naming the file and the fix, on a
# group-readable private key, a symlinked secret file, a ca_file others can
# write, or a key owned by
# another user; started as root it accepts files owned by its "user =", and
# so does exoauthctl doctor run as root (with no "user =": the packaged
# user exoauth, when it exists).
import os
import pwd
import subprocess
import tempfile

import pytest

import idp as fakeidp
from conftest import EXOAUTHD, Daemon, cert_account, secret_account

CID = "55555555-2222-3333-4444-000000000001"
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def refusal(dm):
    """Start exoauthd on dm's config; it must exit 1. Its stderr."""
    out = subprocess.run([EXOAUTHD, "-c", dm.conf], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1, out.stdout + out.stderr
    return out.stderr


def check(dm):
    """exoauthd -t on dm's config: (exit status, output)."""
    out = subprocess.run([EXOAUTHD, "-t", "-c", dm.conf], capture_output=True, text=True, timeout=20)
    return out.returncode, out.stdout + out.stderr


def cert_files(tmp_root):
    """A fresh certificate and key (0600) in their own directory."""
    d = tempfile.mkdtemp(prefix="cred-", dir=tmp_root)
    cert, key, _ = fakeidp.make_app_cert(d, "app")
    return d, cert, key


def secret_file(d, owner=0):
    """A client secret file, 0600, owned by owner."""
    path = os.path.join(d, "secret")
    with open(path, "w") as f:
        f.write("s3cr3t\n")
    os.chmod(path, 0o600)
    os.chown(path, owner, -1)
    return path


def test_group_readable_private_key_is_refused(tmp_root, idp):
    _, cert, key = cert_files(tmp_root)
    os.chmod(key, 0o640)
    err = refusal(Daemon(tmp_root, idp, cert_account("app", CID, cert, key)))
    assert "private_key %s: readable or writable by group or others; chmod 600 %s" % (key, key) in err


def test_symlinked_secret_file_is_refused(tmp_root, idp):
    d = tempfile.mkdtemp(prefix="cred-", dir=tmp_root)
    link = os.path.join(d, "secret.link")
    os.symlink(secret_file(d), link)
    err = refusal(Daemon(tmp_root, idp, secret_account("app", CID, link)))
    assert "secret_file %s: is a symbolic link" % link in err


def test_writable_ca_file_is_refused(tmp_root, idp):
    # whoever can add a trust anchor can stand in for Entra ID
    d, cert, key = cert_files(tmp_root)
    ca = os.path.join(d, "ca.pem")
    with open(idp.ca_file) as src, open(ca, "w") as dst:
        dst.write(src.read())
    os.chmod(ca, 0o666)
    err = refusal(Daemon(tmp_root, idp, cert_account("app", CID, cert, key), ca_file=ca))
    assert "ca_file %s: writable by group or others; chmod go-w %s" % (ca, ca) in err, err
    os.chmod(ca, 0o644)
    assert check(Daemon(tmp_root, idp, cert_account("app", CID, cert, key), ca_file=ca))[0] == 0


@as_root
def test_key_of_another_user_is_refused(tmp_root, idp):
    _, cert, key = cert_files(tmp_root)
    os.chown(key, NOBODY, -1)
    err = refusal(Daemon(tmp_root, idp, cert_account("app", CID, cert, key)))
    assert "private_key %s: owned by uid %d" % (key, NOBODY) in err and "chown" in err


@as_root
def test_root_accepts_files_of_its_user(tmp_root, idp):
    _, cert, key = cert_files(tmp_root)
    os.chown(key, NOBODY, -1)
    dm = Daemon(tmp_root, idp, cert_account("app", CID, cert, key), extra_global="user = nobody")
    os.chown(dm.state, NOBODY, -1)
    status, out = check(dm)
    assert status == 0, out


@as_root
def test_doctor_as_root_accepts_files_of_exoauthds_user(tmp_root, idp):
    d = tempfile.mkdtemp(prefix="cred-", dir=tmp_root)
    dm = Daemon(tmp_root, idp, secret_account("app", CID, secret_file(d, NOBODY)),
                extra_global="user = nobody")
    os.chown(dm.state, NOBODY, -1)
    lines = dm.ctl("doctor").stdout.splitlines()
    for what in ("state_dir", "credential app"):
        assert any(l.startswith("OK") and what in l for l in lines), (what, lines)


@as_root
@pytest.mark.skipif(not any(p.pw_name == "exoauth" for p in pwd.getpwall()),
                    reason="needs the packaged user exoauth")
def test_doctor_as_root_without_user_accepts_files_of_the_packaged_user(tmp_root, idp):
    uid = pwd.getpwnam("exoauth").pw_uid
    d = tempfile.mkdtemp(prefix="cred-", dir=tmp_root)
    dm = Daemon(tmp_root, idp, secret_account("app", CID, secret_file(d, uid)))
    os.chown(dm.state, uid, -1)
    lines = dm.ctl("doctor").stdout.splitlines()
    for what in ("state_dir", "credential app"):
        assert any(l.startswith("OK") and what in l for l in lines), (what, lines)
