"""A warm Python for local training jobs: torch is imported once per Snakemake run, not once per job.

Importing torch costs a training job about 1.3-1.7 s, a sixth of the default DAG's job time. When Snakemake
runs jobs on this machine, its `onstart` hook starts `python -m transferability warm-server SOCKET`, which
imports the training code and waits. Each `python -m transferability train ...` then sends its arguments,
working directory, environment and stdin/stdout/stderr to the server, which forks a copy of itself to
run the job, and the client exits with the job's exit status. The forked job dies with its client (a
killed or cancelled Snakemake job kills its training), and a client that finds no server (not started
yet, disabled, or inside a Slurm job, whose work must stay in its allocation) runs the job itself.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback

SOCKET_ENV = "TRANSFERABILITY_WARM_SOCKET"
_STATUS = struct.Struct("i")
_MAX_REQUEST = 1 << 20


# ---- client ---------------------------------------------------------------------------------------
def run_warm(argv: list[str]) -> int | None:
    """Run `python -m transferability <argv>` in the warm server; its exit status, or None without one."""
    path = os.environ.get(SOCKET_ENV)
    if not path or "SLURM_JOB_ID" in os.environ:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(path)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(conn, [request], [0, 1, 2])
    except OSError:
        conn.close()
        return None
    status = conn.recv(_STATUS.size)  # blocks until the job ends; if we are killed, the job sees EOF
    if len(status) < _STATUS.size:
        print("error: the warm training process died without an exit status (killed? out of memory?)",
              file=sys.stderr)
        return 1
    return _STATUS.unpack(status)[0]


# ---- server ---------------------------------------------------------------------------------------
def start_server(path: str, python: str = sys.executable, env: dict | None = None) -> subprocess.Popen:
    """Start a server for this process's jobs and point them at it (through the environment they inherit).
    It stops with stop_server(), or by itself within a second of this process's end."""
    server = subprocess.Popen([python, "-m", "transferability", "warm-server", path, str(os.getpid())],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    os.environ[SOCKET_ENV] = path
    return server


def stop_server(server: subprocess.Popen, path: str) -> None:
    os.environ.pop(SOCKET_ENV, None)
    server.terminate()
    server.wait()
    _unlink(path)


def serve(path: str, parent_pid: int, entry, warm_up=lambda: None) -> None:
    """Accept jobs until the parent process is gone or SIGTERM; each runs `entry(argv)` (the command line,
    which exits with its status, or returns it) in a forked child. `warm_up()` runs once first: what it imports or builds,
    every job inherits (the point of the server)."""
    warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished jobs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    os.chmod(path, 0o600)  # only this user may hand the server a job to run
    listener.listen(64)
    listener.settimeout(1.0)
    try:
        while os.getppid() == parent_pid:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if os.fork() == 0:
                listener.close()
                _run_job(conn, entry)  # never returns
            conn.close()
    finally:
        listener.close()
        _unlink(path)


def _run_job(conn: socket.socket, entry) -> None:
    """In the forked child: become the client's job, report its exit status, exit."""
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        conn.settimeout(None)
        message, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        request = json.loads(message)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.pop(SOCKET_ENV)  # this process is the job: it must not ask the server again
        threading.Thread(target=_exit_with_client, args=(conn,), daemon=True).start()
        print(f"(running in a process forked from the warm server {os.getppid()}: pid {os.getpid()})", flush=True)
        status = _exit_status(entry, request["argv"])
    except BaseException:  # anything, even SystemExit from a bad request: report it, never return
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            conn.sendall(_STATUS.pack(status))
        finally:
            os._exit(status)


def _exit_status(entry, argv) -> int:
    try:
        return entry(argv) or 0
    except SystemExit as exit:  # the entry point's exit with the command's status, argparse's errors, --help
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)


def _exit_with_client(conn: socket.socket) -> None:
    """The client sends nothing after its request: end of file means it was killed, so the job stops too."""
    conn.recv(1)
    os._exit(128 + signal.SIGTERM)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
