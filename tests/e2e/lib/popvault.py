"""The popvault binary for python e2e scripts (popvault.sh is the bash
side): where it is, generated mail, and running it on one archive.

    import pvharness, popvault
    with pvharness.Run() as run:
        idx = popvault.genmail(os.path.join(run.dir, "mail"), "--count", 60, "--seed", 8)
        d = run.dovecot(seed={"alice": [os.path.join(run.dir, "mail")]})
        pv = popvault.Archive(os.path.join(run.dir, "data"))
        pv.harvested(d, run.dir)                        # init, account, harvest
        p = pv("--json", "search", "x", check=False)    # a CompletedProcess
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
PV = os.environ.get("POPVAULT_BIN") or os.path.join(SRC, "build", "popvault")


def genmail(out, *args):
    """Writes generated mail to the directory out (genmail.py ARGS, quietly);
    returns the messages of its index.json."""
    subprocess.run([sys.executable, os.path.join(HERE, "genmail.py"), "--out", out]
                   + [str(a) for a in args], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "index.json")) as f:
        return json.load(f)["messages"]


class Archive:
    """popvault on the archive at data; env: variables added to every run."""

    def __init__(self, data, env=None):
        self.data = data
        self.env = env or {}

    def __call__(self, *args, check=True, data_dir=None, at=None):
        """Runs popvault --data DIR ARGS (DIR: data_dir, else this archive),
        as if run `at` days from now when given (faketime: the real clock
        moved by that offset, so consecutive runs never see time go back).
        Returns the CompletedProcess (output captured as bytes); with check,
        a non-zero exit ends the script with popvault's stderr."""
        cmd = [PV, "--data", data_dir or self.data] + [str(a) for a in args]
        env = dict(os.environ, **self.env)
        if at is not None:
            cmd = ["faketime", "-f", "+%dd" % int(at)] + cmd
            # faketime is an LD_PRELOAD library: an ASan build must accept it.
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        p = subprocess.run(cmd, capture_output=True, env=env)
        if check and p.returncode != 0:
            raise SystemExit("popvault %s failed (%d): %s" % (args, p.returncode, p.stderr.decode()))
        return p

    def glass(self, at=None):
        """Approves the newest pending approval (policy propose, hold
        release, dispose) alone with --break-glass, as a test archive's single
        operator: the two-person rule's documented single-operator path
        (popvault.sh's pv_glass). Returns the CompletedProcess."""
        pending = json.loads(self("--json", "approvals", "list").stdout)
        return self("approvals", "approve", pending[0]["id"], "--break-glass", "--reason",
                    "e2e: a single operator", at=at)

    def harvested(self, dovecot, run_dir, user="alice"):
        """init, then account USER on the Dovecot server (implicit TLS, its
        CA, password USERpw as the harness's default users have), then
        harvest --once."""
        pw = os.path.join(run_dir, user + ".pw")
        with open(pw, "w") as f:
            f.write(user + "pw\n")
        self("init")
        self("account", "add", user, "--host", "localhost", "--port", dovecot.vars["TLS_PORT"],
             "--user", user, "--password-file", pw, "--ca-file", dovecot.vars["CA"])
        self("harvest", "--once")
