"""The bash tool's sandbox (bubblewrap), against commands that try to get out: writes outside the
roots, the network, version control config, and background processes that would outlive the
call. Each sandbox test skips, saying why, where bwrap cannot run."""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import signal
import struct
import subprocess
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx import ToolContext, ToolError, builtin_tool, run_tool
from anyagent_httpx._tools._builtin import _paths, _sandbox

pytestmark = pytest.mark.anyio


def _bwrap_problem() -> str | None:
    executable = shutil.which("bwrap")
    if executable is None:
        return "bwrap (bubblewrap) is not installed"
    options = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "--die-with-parent"]
    result = subprocess.run([executable, *options, "--", "true"], capture_output=True, check=False)
    return None if result.returncode == 0 else f"bwrap cannot run here: {result.stderr.decode(errors='replace')}"


PROBLEM = _bwrap_problem()
needs_bwrap = pytest.mark.skipif(PROBLEM is not None, reason=f"no sandbox to test: {PROBLEM}")


@pytest.fixture
def root(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "outside"
    path.mkdir()
    return path


async def bash(command: str, context: ToolContext, **extra: Any) -> tuple[bool, str]:
    result = await run_tool(builtin_tool("bash"), "call-1", {"command": command, **extra}, context)
    assert isinstance(result.content, str)
    return result.is_error, result.content


@needs_bwrap
async def test_writes_outside_the_roots_fail(root: pathlib.Path, outside: pathlib.Path) -> None:
    context = ToolContext(cwd=root)
    _, text = await bash(f"touch {outside}/escaped; echo x >> ~/.bashrc_probe; touch inside; echo $?", context)
    assert not (outside / "escaped").exists()
    assert not (pathlib.Path.home() / ".bashrc_probe").exists()
    assert (root / "inside").exists(), text
    assert "Read-only file system" in text


@needs_bwrap
async def test_tmp_is_private(root: pathlib.Path) -> None:
    marker = f"anyagent-sandbox-{root.parent.name}"
    is_error, text = await bash(f"touch /tmp/{marker} && ls /tmp", ToolContext(cwd=root))
    assert not is_error and marker in text, text
    assert not (pathlib.Path("/tmp") / marker).exists()


@needs_bwrap
async def test_version_control_config_stays_read_only(root: pathlib.Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / ".git" / "config.worktree").write_text("[core]\n")  # read with extensions.worktreeConfig
    (root / ".git" / "hooks").mkdir()
    context = ToolContext(cwd=root)
    _, text = await bash("printf '\\tfsmonitor = touch pwned\\n' >> .git/config", context)
    assert (root / ".git" / "config").read_text() == "[core]\n", text
    _, text = await bash("printf '\\tfsmonitor = touch pwned\\n' >> .git/config.worktree", context)
    assert (root / ".git" / "config.worktree").read_text() == "[core]\n", text
    _, text = await bash("printf 'touch pwned' > .git/hooks/pre-commit", context)
    assert not (root / ".git" / "hooks" / "pre-commit").exists(), text
    is_error, text = await bash("echo ref > .git/HEAD.new && echo written", context)  # the rest is writable
    assert not is_error and "written" in text, text


@needs_bwrap
@pytest.mark.parametrize("module", ["lib", "vendor/lib", "lib/modules/inner", "objects", "hooks"])
async def test_a_submodules_version_control_config_stays_read_only(root: pathlib.Path, module: str) -> None:
    # git status in the top repository runs git in each submodule, with the configuration kept in
    # .git/modules/<name>/ (and a nested submodule's under its modules/): a core.fsmonitor
    # written there runs outside the sandbox at the next git status.
    gitdir = root / ".git" / "modules" / module
    if module == "lib/modules/inner":  # the outer submodule's git directory
        (root / ".git" / "modules" / "lib" / "objects").mkdir(parents=True)
        (root / ".git" / "modules" / "lib" / "HEAD").write_text("ref: refs/heads/main\n")
    (gitdir / "hooks").mkdir(parents=True)
    (gitdir / "info").mkdir()
    (gitdir / "config").write_text("[core]\n")
    (gitdir / "HEAD").write_text("ref: refs/heads/main\n")
    context = ToolContext(cwd=root)
    config = f".git/modules/{module}/config"
    _, text = await bash(f"printf '\\tfsmonitor = touch pwned\\n' >> {config}", context)
    assert (gitdir / "config").read_text() == "[core]\n", text
    _, text = await bash(f"printf 'touch pwned' > .git/modules/{module}/hooks/post-checkout", context)
    assert not (gitdir / "hooks" / "post-checkout").exists(), text
    _, text = await bash(f"echo x > .git/modules/{module}/info/attributes", context)
    assert not (gitdir / "info" / "attributes").exists(), text
    is_error, text = await bash(f"echo ref > .git/modules/{module}/HEAD.new && echo written", context)
    assert not is_error and "written" in text, text  # the rest is writable: commits still work


@needs_bwrap
async def test_there_is_no_network_unless_allowed(root: pathlib.Path) -> None:
    connected: list[bytes] = []
    received = anyio.Event()
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def serve(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                connected.append(await stream.receive())
                received.set()

        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, serve)
            command = f"echo hello > /dev/tcp/127.0.0.1/{port} && echo sent"
            _, text = await bash(command, ToolContext(cwd=root))
            assert "sent" not in text, text
            _, text = await bash(command, ToolContext(cwd=root, network=True))
            assert "sent" in text, text
            with anyio.fail_after(30):  # a hang guard only
                await received.wait()
            group.cancel_scope.cancel()
    assert connected == [b"hello\n"]


def _running_with(marker: str) -> list[int]:
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(") ", 1)[-1][:1]
            except OSError:
                continue
            if marker.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


@needs_bwrap
async def test_no_background_process_survives_the_call(root: pathlib.Path) -> None:
    marker = "4242.1717"  # sleep's argument: how the process is found in /proc by pid
    is_error, text = await bash(
        f"sleep {marker} & sleep {marker} & disown; setsid sleep {marker} & echo started", ToolContext(cwd=root)
    )
    assert not is_error and "started" in text, text
    for _ in range(500):  # bounded polling: the namespace's processes are reaped asynchronously
        if not await anyio.to_thread.run_sync(_running_with, marker):
            break
        await anyio.sleep(0.01)
    else:
        pids = _running_with(marker)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"background processes outlived the call: {pids}")


@needs_bwrap
async def test_a_timeout_kills_the_whole_sandbox(root: pathlib.Path) -> None:
    marker = "4343.1717"
    is_error, text = await bash(f"setsid sleep {marker} & sleep {marker}", ToolContext(cwd=root), timeout=0.5)
    assert is_error and "timed out" in text
    for _ in range(500):
        if not await anyio.to_thread.run_sync(_running_with, marker):
            break
        await anyio.sleep(0.01)
    else:
        pytest.fail(f"processes outlived the timeout: {_running_with(marker)}")


@pytest.fixture
def without_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """A PATH with bash but no bwrap, and the probe forgotten (it is cached per process)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("bash", "sh", "true", "echo"):
        found = shutil.which(name)
        if found is not None:
            (bin_dir / name).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(_sandbox, "_probe", [])
    monkeypatch.setattr(_sandbox, "_warned", [])


@pytest.mark.usefixtures("without_bwrap")
async def test_without_bwrap_required_refuses_to_run(root: pathlib.Path) -> None:
    is_error, text = await bash("touch ran", ToolContext(cwd=root, sandbox="required"))
    assert is_error and "the sandbox is required" in text and "bwrap" in text, text
    assert not (root / "ran").exists()


@pytest.mark.usefixtures("without_bwrap")
async def test_without_bwrap_auto_warns_and_runs(root: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="anyagent"):
        is_error, text = await bash("echo ran", ToolContext(cwd=root))
        await bash("echo again", ToolContext(cwd=root))
    assert not is_error and text == "ran\n"
    warnings = [record.getMessage() for record in caplog.records if "WITHOUT a sandbox" in record.getMessage()]
    assert len(warnings) == 1 and "bwrap (bubblewrap) is not installed" in warnings[0], warnings


@needs_bwrap
async def test_read_rules_hide_paths_from_commands_and_edit_rules_keep_them_read_only(root: pathlib.Path) -> None:
    """``Read(...)`` deny rules apply to ``bash`` in the sandbox as to the file tools: what they
    cover cannot be read (a directory shows empty, a file refuses to open, a nested match too);
    ``Edit(...)`` ones make it read-only."""
    (root / "secrets").mkdir()
    (root / "secrets" / "key").write_text("hunter2\n")
    (root / "app").mkdir()
    (root / "app" / ".env").write_text("TOKEN=s3cret\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("guide\n")
    (root / "notes.md").write_text("notes\n")
    context = ToolContext(cwd=root, denied=["Read(secrets/**)", "Read(**/.env)", "Edit(docs/**)"])
    _, text = await bash("cat secrets/key; cat app/.env; grep -r s3cret . ; cat notes.md", context)
    assert "hunter2" not in text and "s3cret" not in text, text
    assert "notes" in text, text
    is_error, text = await bash("ls -A secrets", context)
    assert not is_error and text == "(no output)", text  # an empty directory in its place
    _, text = await bash("cat app/.env", context)
    assert text.startswith("cat: app/.env: Permission denied"), text  # a file that cannot be read
    _, text = await bash("echo changed > docs/guide.md; touch secrets/new; cat docs/guide.md", context)
    assert (root / "docs" / "guide.md").read_text() == "guide\n", text
    assert not (root / "secrets" / "new").exists() and (root / "secrets" / "key").read_text() == "hunter2\n"
    is_error, text = await bash("echo more >> notes.md && echo written", context)  # the rest is writable
    assert not is_error and "written" in text and (root / "notes.md").read_text() == "notes\nmore\n", text


@needs_bwrap
async def test_a_symlink_to_a_hidden_directory_shows_it_empty(root: pathlib.Path) -> None:
    (root / "secrets").mkdir()
    (root / "secrets" / "key").write_text("hunter2\n")
    (root / "public").symlink_to(root / "secrets")
    _, text = await bash("ls -A public; cat public/key", ToolContext(cwd=root, denied=["Read(secrets/**)"]))
    assert "hunter2" not in text and text.startswith("cat: public/key: No such file or directory"), text


_CONNECT = """import socket, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.connect("\\0" + address[1:] if address.startswith("@") else address)  # @: the abstract namespace
print("connected")
"""


@pytest.fixture
def unix_listeners() -> Any:
    """A unix socket server outside the sandbox on a file under a readable directory (``/var/tmp``,
    not the sandbox's private ``/tmp``) and one in the abstract namespace: (address, listener) pairs."""
    import socket
    import tempfile

    directory = tempfile.mkdtemp(prefix="aa-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    listeners = []
    for address in (os.path.join(directory, "s"), f"\0anyagent-test-{os.getpid()}-{id(directory)}"):
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(address)
        listener.listen(4)
        listener.setblocking(False)
        listeners.append((address, listener))
    yield listeners
    for _, listener in listeners:
        listener.close()
    shutil.rmtree(directory, ignore_errors=True)


def _pending(listener: Any) -> int:
    """How many connections wait on the listener (taken and closed)."""
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@needs_bwrap
@pytest.mark.parametrize("network", [False, True])
async def test_unix_sockets_outside_the_sandbox_cannot_be_reached(
    root: pathlib.Path, unix_listeners: Any, network: bool
) -> None:
    # /var/run/docker.sock, the session bus under /run/user (systemd-run --user), ssh-agent...:
    # connect() on a socket file is no write, so the read-only file system does not stop it.
    for address, listener in unix_listeners:
        (root / "connect.py").write_text(_CONNECT)
        command = f"python3 connect.py '{address.replace(chr(0), '@')}'"
        _, text = await bash(command, ToolContext(cwd=root, network=network))
        assert text.endswith("exit code 1"), text  # the connect failed
        assert "connected" not in text and "Operation not permitted" in text, text
        assert _pending(listener) == 0
        # Without the sandbox (sandbox="off", documented as no confinement) the same command connects.
        _, text = await bash(command, ToolContext(cwd=root, sandbox="off"))
        assert "connected" in text, text
        assert _pending(listener) == 1


@needs_bwrap
async def test_ordinary_commands_still_work_under_the_socket_filter(root: pathlib.Path) -> None:
    command = (
        "git init -q r && git -C r status --short && ls / >/dev/null && echo a | grep -c a"
        " && python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"x\"); print(b.recv(1))'"
        " && ls -A /run/user"
    )
    is_error, text = await bash(command, ToolContext(cwd=root))
    assert not is_error and text == "1\nb'x'\n", text


def test_the_socket_filter_knows_its_machines() -> None:
    for machine in ("x86_64", "aarch64"):
        program = _sandbox.unix_socket_filter(machine)
        assert program is not None and len(program) % 8 == 0
    assert _sandbox.unix_socket_filter("riscv64") is None  # unknown: no filter rather than a wrong one


_IO_URING_SETUP = """import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
fd = libc.syscall(425, 8, params)  # io_uring_setup(8 entries, params): 425 on x86_64 and aarch64
print("ring" if fd >= 0 else errno.errorcode[ctypes.get_errno()])
"""


@needs_bwrap
@pytest.mark.skipif(
    _sandbox.unix_socket_filter() is None, reason="no seccomp filter is known for this machine's system calls"
)
async def test_io_uring_cannot_be_set_up_in_the_sandbox(root: pathlib.Path) -> None:
    # io_uring makes sockets (IORING_OP_SOCKET, Linux 5.19) without calling socket(): the filter
    # refuses its three system calls instead.
    (root / "ring.py").write_text(_IO_URING_SETUP)
    is_error, text = await bash("python3 ring.py", ToolContext(cwd=root))
    assert not is_error and text == "EPERM\n", text
    _, outside = await bash("python3 ring.py", ToolContext(cwd=root, sandbox="off"))
    assert outside != "EPERM\n", outside  # what refuses it in the sandbox is the filter


def _run_filter(program: bytes, nr: int, arch: int, args: tuple[int, ...]) -> int:
    """What a classic BPF seccomp program returns for a system call: the instructions the filter
    uses (absolute word loads, jumps on equality and on bits, returns), anything else an error."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)  # struct seccomp_data (little-endian machines)
    instructions: list[tuple[int, int, int, int]] = [
        struct.unpack_from("<HBBI", program, offset) for offset in range(0, len(program), 8)
    ]
    accumulator, pc = 0, 0
    for _ in range(len(instructions)):  # jumps only go forward: every run ends within this
        code, jt, jf, k = instructions[pc]
        if code == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            accumulator = int.from_bytes(data[k : k + 4], "little")
            pc += 1
        elif code == 0x15:  # BPF_JMP | BPF_JEQ | BPF_K
            pc += 1 + (jt if accumulator == k else jf)
        elif code == 0x45:  # BPF_JMP | BPF_JSET | BPF_K
            pc += 1 + (jt if accumulator & k else jf)
        elif code == 0x06:  # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"instruction {code:#x} at {pc} is not one the filter should use")
    raise AssertionError("the program ran off its end")


_MACHINES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}  # AUDIT_ARCH_, socket's number
_IO_URING = (425, 426, 427)  # io_uring_setup, _enter, _register: the same on both (asm-generic and syscall_64.tbl)
_EPERM = 0x00050001  # SECCOMP_RET_ERRNO | EPERM
_ALLOW = 0x7FFF0000


@given(
    machine=st.sampled_from(sorted(_MACHINES)),
    nr=st.one_of(st.sampled_from([*_IO_URING, 41, 198, 0, 424, 428, 0x40000000 | 41]), st.integers(0, 2**31 - 1)),
    foreign=st.booleans(),
    family=st.one_of(st.sampled_from([1, 2, 10, 16, 1 | 2**32]), st.integers(0, 2**64 - 1)),
)
def test_the_filter_refuses_exactly_unix_sockets_io_uring_and_other_abis(
    machine: str, nr: int, foreign: bool, family: int
) -> None:
    program = _sandbox.unix_socket_filter(machine)
    assert program is not None
    audit_arch, socket_call = _MACHINES[machine]
    arch = 0x40000003 if foreign else audit_arch  # AUDIT_ARCH_I386 when foreign
    refused = (
        foreign
        or (machine == "x86_64" and nr & 0x40000000 != 0)  # x32
        or nr in _IO_URING
        or (nr == socket_call and family & 0xFFFFFFFF == 1)  # AF_UNIX, in the argument's low 32 bits
    )
    result = _run_filter(program, nr, arch, (family, 0, 0, 0, 0, 0))
    assert result == (_EPERM if refused else _ALLOW), (machine, nr, foreign, family)


_CONFIGURATION = (  # files under a root that make code run later, at the next git status, editor start...
    "deep/er/repo/.git/config",  # a nested repository's
    "deep/er/repo/.git/hooks/pre-commit",
    "deep/er/repo/.git/modules/lib/config",  # its submodule's
    "deep/er/repo/.git/worktrees/w/commondir",  # a linked worktree's: where its configuration is
    "vendor/lib/.git",  # a submodule's checkout: the file that says where its git directory is
    ".github/workflows/ci.yml",
    "pkg/.github/workflows/ci.yml",
    ".vscode/tasks.json",
    ".vscode/settings.json",
    "app/.vscode/tasks.json",
    ".idea/workspace.xml",
    ".envrc",
    "app/.envrc",
    ".pre-commit-config.yaml",
    ".claude/settings.json",
    ".mcp.json",
    "app/.npmrc",
)


def _make_tree(root: pathlib.Path) -> None:
    for relative in _CONFIGURATION:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("original\n")
    for gitdir in (
        root / "deep/er/repo/.git",
        root / "deep/er/repo/.git/modules/lib",
        root / "deep/er/repo/.git/worktrees/w",
    ):
        (gitdir / "HEAD").write_text("ref: refs/heads/main\n")
    for relative in ("src/main.py", "deep/er/repo/src/main.py", "app/notes.md"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("original\n")


@needs_bwrap
async def test_configuration_that_runs_code_stays_read_only_anywhere_in_the_tree(root: pathlib.Path) -> None:
    _make_tree(root)
    context = ToolContext(cwd=root)
    for relative in _CONFIGURATION:
        _, text = await bash(f"echo pwned >> {relative}; rm -f {relative}", context)
        assert (root / relative).read_text() == "original\n", (relative, text)
    for directory in (".github/workflows", ".vscode", "app/.vscode", "deep/er/repo/.git/hooks"):
        _, text = await bash(f"echo pwned > {directory}/new", context)  # a protected directory as a whole
        assert not (root / directory / "new").exists(), (directory, text)
    command = (
        "echo changed > src/main.py && echo changed > deep/er/repo/src/main.py && echo changed >> app/notes.md"
        " && echo ref > deep/er/repo/.git/HEAD.new && mkdir -p new/dir && echo written"
    )
    is_error, text = await bash(command, context)  # the rest stays writable: commits still work
    assert not is_error and text == "written\n", text
    assert (root / "src/main.py").read_text() == "changed\n"


@needs_bwrap
@pytest.mark.parametrize("moved", [".git", "deep", "deep/er/repo/.git", ".vscode", "app"])
async def test_moving_a_directory_away_does_not_free_its_configuration(root: pathlib.Path, moved: str) -> None:
    # The read-only file would move with its directory, leaving its old name free for a new file.
    _make_tree(root)
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("original\n")
    context = ToolContext(cwd=root)
    command = f"mv {moved} moved-away; rm -rf {moved}; mkdir -p {moved} && echo pwned > {moved}/config"
    _, text = await bash(command, context)  # mv may copy what it cannot rename: the original stays
    for relative in (".git/config", *_CONFIGURATION):
        assert (root / relative).read_text() == "original\n", (relative, text)


@needs_bwrap
async def test_moving_a_directory_away_does_not_free_what_an_edit_rule_covers(root: pathlib.Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("guide\n")
    context = ToolContext(cwd=root, denied=["Edit(docs/**)"])
    _, text = await bash("mv docs docs2; mkdir -p docs && echo changed > docs/guide.md", context)
    assert (root / "docs" / "guide.md").read_text() == "guide\n", text
    assert not (root / "docs2").exists(), text


def test_the_search_for_configuration_is_bounded(root: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Breadth first, over at most _SCAN_ENTRIES entries per root: shallow configuration is found
    # however large the tree, and the work stays bounded.
    for index in range(30):
        (root / f"d{index}" / "sub").mkdir(parents=True)
        (root / f"d{index}" / "sub" / ".envrc").write_text("deep\n")
    (root / ".envrc").write_text("top\n")
    monkeypatch.setattr(_sandbox, "_SCAN_ENTRIES", 40)
    listed: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: Any) -> Any:
        listed.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)
    found = _sandbox.protected_configuration(root).protected
    assert root / ".envrc" in found
    assert 0 < len([path for path in found if path.name == ".envrc"]) < 31
    assert len(listed) <= 40, listed  # no directory is listed once the bound is reached
    monkeypatch.setattr(_sandbox, "_SCAN_ENTRIES", 10_000)
    assert len([path for path in _sandbox.protected_configuration(root).protected if path.name == ".envrc"]) == 31


class _CountedListings:
    """``os.scandir``, counting the entries taken from each listing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entries = 0
        real = os.scandir
        counter = self

        class Listing:
            def __init__(self, path: Any) -> None:
                self.listing = real(path)

            def __enter__(self) -> Listing:
                return self

            def __exit__(self, *exc: object) -> None:
                self.listing.close()

            def __iter__(self) -> Listing:
                return self

            def __next__(self) -> os.DirEntry[str]:
                entry = next(self.listing)
                counter.entries += 1
                return entry

        monkeypatch.setattr(os, "scandir", Listing)


def test_the_search_for_what_the_path_rules_cover_is_bounded(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Breadth first, over at most MASK_SCAN_ENTRIES entries per root: past them the command is
    # refused (what the rules cover could lie in what is not looked at), and no more is listed.
    for index in range(20):
        (root / f"d{index:02}").mkdir()
        for name in range(10):
            (root / f"d{index:02}" / f"f{name}.txt").write_text("")
    (root / "d19" / ".env").write_text("TOKEN=x\n")
    context = ToolContext(cwd=root, denied=["Read(**/.env)"])
    assert _paths.sandbox_masks(context) == ((root / "d19" / ".env",), ())  # 220 entries: under the bound
    monkeypatch.setattr(_paths, "MASK_SCAN_ENTRIES", 50)
    counted = _CountedListings(monkeypatch)
    with pytest.raises(ToolError) as raised:
        _paths.sandbox_masks(context)
    assert str(raised.value) == (
        f"the path rules cannot be applied in the sandbox: {str(root)!r} holds more than 50 entries, past what is "
        "searched for the paths they cover; the command was not run (narrow the allowed directories)"
    )
    assert counted.entries == 51  # the root's 20, 3 directories' 10, and the one past the bound
    monkeypatch.undo()
    # Without rules nothing is searched.
    counted = _CountedListings(monkeypatch)
    assert _paths.sandbox_masks(ToolContext(cwd=root)) == ((), ())
    assert counted.entries == 0


def test_the_search_for_what_the_path_rules_cover_is_bounded_in_depth(root: pathlib.Path) -> None:
    deep = root.joinpath(*["d"] * _paths.MASK_SCAN_DEPTH)
    deep.mkdir(parents=True)
    (deep / ".env").write_text("TOKEN=x\n")
    context = ToolContext(cwd=root, denied=["Read(**/.env)"])
    assert _paths.sandbox_masks(context) == ((deep / ".env",), ())  # the deepest directory listed
    (deep / "d").mkdir()
    with pytest.raises(ToolError, match=f"holds a directory nested more than {_paths.MASK_SCAN_DEPTH} deep"):
        _paths.sandbox_masks(context)
    # A directory a rule covers is not entered: however deep it goes, it is masked as a whole.
    assert _paths.sandbox_masks(ToolContext(cwd=root, denied=["Read(d/**)"])) == ((root / "d",), ())


@needs_bwrap
async def test_a_command_is_not_run_past_the_bound_of_the_search_for_the_path_rules(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(60):
        (root / f"f{index:02}.txt").write_text("")
    monkeypatch.setattr(_paths, "MASK_SCAN_ENTRIES", 50)
    is_error, text = await bash("touch ran", ToolContext(cwd=root, denied=["Read(**/.env)"]))
    assert is_error and "the path rules cannot be applied in the sandbox" in text, text
    assert not (root / "ran").exists()
    is_error, text = await bash("touch ran", ToolContext(cwd=root))  # no path rules: nothing to search for
    assert not is_error and (root / "ran").exists(), text


@needs_bwrap
async def test_what_the_path_rules_cover_is_masked_as_it_was_when_the_command_started(root: pathlib.Path) -> None:
    # A directory a rule covers as a whole takes no new name; a name a file pattern covers that
    # does not exist yet can be made by the command, and is read-only from the next one on.
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("guide\n")
    (root / "locked").mkdir()
    context = ToolContext(cwd=root, denied=["Edit(docs/*.md)", "Edit(locked/**)"])
    _, text = await bash(
        "touch locked/new; echo one > docs/new.md; echo two >> docs/new.md; echo x > docs/guide.md", context
    )
    assert not (root / "locked" / "new").exists(), text
    assert (root / "docs" / "guide.md").read_text() == "guide\n", text
    assert (root / "docs" / "new.md").read_text() == "one\ntwo\n", text
    _, text = await bash("echo three >> docs/new.md; rm -f docs/new.md", context)
    assert (root / "docs" / "new.md").read_text() == "one\ntwo\n", text


def test_the_mounts_for_configuration_are_bounded(root: pathlib.Path) -> None:
    # Each mount costs bwrap time, more as they add up: configuration deep in a chain of
    # directories (each above it is pinned, a mount too) is kept only while the bound allows,
    # the shallowest first; what an Edit(...) rule covers is always kept.
    deep = root.joinpath(*[f"level{index}" for index in range(100)])
    deep.mkdir(parents=True)
    for parent in (deep, *deep.parents):
        if parent == root:
            break
        (parent / ".envrc").write_text("x\n")
    (root / ".envrc").write_text("top\n")
    (root / "docs" / "a" / "b").mkdir(parents=True)
    (root / "docs" / "a" / "b" / "guide.md").write_text("guide\n")
    protected = _sandbox.protected_configuration(root).protected
    edited = [root / "docs" / "a" / "b" / "guide.md"]
    command = _sandbox.sandboxed(
        ["true"], roots=[root], directory=root, network=False, read_only=edited, protected=protected
    )
    binds = [command[index + 1] for index, option in enumerate(command) if option in ("--bind", "--ro-bind")]
    inside = [bind for bind in binds if bind.startswith(f"{root}/")]
    assert len(inside) <= _sandbox._MAX_MOUNTS + 3, len(inside)  # docs/a/b/guide.md: itself and two pins
    assert str(root / ".envrc") in inside and str(root / "level0" / ".envrc") in inside
    assert str(edited[0]) in inside and str(root / "docs" / "a") in inside
    assert str(deep / ".envrc") not in inside


@needs_bwrap
@pytest.mark.parametrize("gitdir", [".git", "deep/er/repo/.git", "deep/er/repo/.git/modules/lib"])
async def test_a_commondir_made_by_the_command_is_removed_when_it_ends(root: pathlib.Path, gitdir: str) -> None:
    # A commondir file points a git directory's configuration at another one: git would read
    # the command's own config (and its core.fsmonitor) at the next git status. Git makes none
    # in an existing git directory, and there is no name to mount over before it exists.
    _make_tree(root)
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("original\n")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    context = ToolContext(cwd=root)
    command = (
        f"mkdir evil && echo '[core] fsmonitor = touch pwned' > evil/config && echo $PWD/evil > {gitdir}/commondir"
    )
    is_error, text = await bash(command + " && echo made", context)
    assert not (root / gitdir / "commondir").exists(), text
    assert is_error and text.startswith("made\n") and f"{gitdir}/commondir" in text and "removed" in text, text
    assert (root / "evil" / "config").exists()  # the rest the command made stays
    command = "git init -q r && git -C r -c user.name=a -c user.email=a@b commit -q --allow-empty -m x"
    is_error, text = await bash(command + " && git -C r worktree add -q ../w 2>&1; echo done", context)
    assert not is_error and (root / "w" / ".git").exists(), text  # git's own commondir, in a new git directory


_NAMES = st.one_of(
    st.sampled_from([".git", ".github", "workflows", ".vscode", ".VSCode ", ".envrc", ".env.local", ".config", "git"]),
    st.sampled_from(["src", "app", ".gitlab", "ci", "Jenkinsfile", ".idea", "a.", "actions", "x\\.envrc"]),
    st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=8).filter(lambda n: n not in (".", "..")),
)


@given(st.lists(_NAMES, min_size=1, max_size=6))
def test_a_name_and_its_parent_say_what_its_whole_path_says(parts: list[str]) -> None:
    # The search asks protected_path about "parent/name" only: it stops at the first protected
    # directory, so the first name flagged along a path is the same either way.
    from anyagent_core import protected_path

    def whole(index: int) -> bool:
        return protected_path("/".join(parts[: index + 1])) is not None

    def short(index: int) -> bool:
        return protected_path(f"{parts[index - 1]}/{parts[index]}" if index else parts[index]) is not None

    assert next((i for i in range(len(parts)) if whole(i)), None) == next(
        (i for i in range(len(parts)) if short(i)), None
    )
