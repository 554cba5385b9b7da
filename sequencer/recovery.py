"""Sender recovery on a second core: a worker process that runs ``decode_transaction``.

Owns the worker's life (started with the node, restarted never: if it dies the node
recovers inline and logs it once) and its pipe protocol. ECDSA public-key recovery
(secp256k1, coincurve) is the largest single cost of admitting a raw transaction
(~37 µs of ~47 µs), and it needs no state, so it is the one admission step that can
leave the event loop's core. DESIGN §3 keeps every stateful step on the loop.

Submissions made in one step of the event loop (a JSON-RPC batch's run of
``eth_sendRawTransaction``, or requests of several clients read together) are sent
as one frame, answered in order; the event loop reads answers like any socket, so
no thread of ours ever contends for the GIL. A transaction the worker rejects (or
any answer missing because the worker died) is decoded inline, which raises the
same error with the same message, so the worker never changes what a client sees.

Frames (both directions big-endian). Request: ``count:u32`` then ``count`` times
``length:u32 raw``. Answer: ``count`` times ``status:u8 sender:20`` (status 1 =
recovered, 0 = rejected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import struct
import sys
from collections import deque
from typing import BinaryIO, Final

from sequencer.types.transactions import InvalidTransactionEncoding, decode_transaction

log = logging.getLogger("hummingbird.node")

_COUNT: Final = struct.Struct(">I")
ANSWER_SIZE: Final = 21
MAX_FRAME_TXS: Final = 4096
MAX_RAW_BYTES: Final = 16 * 1024 * 1024  # far above the pool's size limit: a bad frame
_NO_SENDER: Final = b"\x00" * 20


def answer_frame(raws: list[bytes]) -> bytes:
    """What the worker answers for ``raws``: the sender of each, or a rejection."""
    out = bytearray()
    for raw in raws:
        try:
            sender = decode_transaction(raw).sender
        except InvalidTransactionEncoding:
            out += b"\x00" + _NO_SENDER
        else:
            out += b"\x01" + sender
    return bytes(out)


def request_frame(raws: list[bytes]) -> bytes:
    parts = [_COUNT.pack(len(raws))]
    for raw in raws:
        parts.append(_COUNT.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) != size:
        return None
    return data


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """The worker's loop: frames in, answers out, until stdin closes. Exit 0 on a clean
    end of input, 2 on a malformed frame (the node then recovers inline)."""
    while True:
        head = _read_exactly(stdin, 4)
        if head is None:
            return 0
        (count,) = _COUNT.unpack(head)
        if not 0 < count <= MAX_FRAME_TXS:
            return 2
        raws = []
        for _ in range(count):
            size_bytes = _read_exactly(stdin, 4)
            if size_bytes is None:
                return 2
            (size,) = _COUNT.unpack(size_bytes)
            if size > MAX_RAW_BYTES:
                return 2
            raw = _read_exactly(stdin, size)
            if raw is None:
                return 2
            raws.append(raw)
        stdout.write(answer_frame(raws))
        stdout.flush()


def _answer_inline(futures: list[asyncio.Future[bytes | None]]) -> None:
    """Answer ``None`` (decode inline) to every caller still waiting."""
    for future in futures:
        if not future.done():
            future.set_result(None)


class SenderRecovery:
    """The node's side: ``await recover(raw)`` gives the sender, or None when the caller
    must decode inline (the worker rejected it, is not running, or died)."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._alive = False  # started and answering; False once it died or was closed
        self._reader: asyncio.Task[None] | None = None
        self._batch: list[tuple[bytes, asyncio.Future[bytes | None]]] = []
        self._inflight: deque[list[asyncio.Future[bytes | None]]] = deque()
        self.frames = 0
        self.recovered = 0

    @property
    def running(self) -> bool:
        return self._alive

    async def start(self) -> None:
        if self._process is not None:
            return
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sequencer.recovery",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            log.warning("sender recovery worker did not start (%s): recovering inline", error)
            return
        self._alive = True
        self._reader = asyncio.get_running_loop().create_task(self._read_answers())

    async def recover(self, raw: bytes) -> bytes | None:
        if not self._alive or len(raw) > MAX_RAW_BYTES:
            return None
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        if not self._batch:
            # Everything submitted in this step of the loop goes out as one frame.
            asyncio.get_running_loop().call_soon(self._flush)
        self._batch.append((raw, future))
        return await future

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        process = self._process
        if not batch:
            return
        if (
            not self._alive
            or process is None
            or process.stdin is None
            or process.stdin.is_closing()
        ):
            _answer_inline([future for _, future in batch])
            return
        for start in range(0, len(batch), MAX_FRAME_TXS):
            chunk = batch[start : start + MAX_FRAME_TXS]
            process.stdin.write(request_frame([raw for raw, _ in chunk]))
            self._inflight.append([future for _, future in chunk])
            self.frames += 1

    async def _read_answers(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        stdout = process.stdout
        try:
            while True:
                head = await stdout.readexactly(1)  # waits here while nothing is asked
                futures = self._inflight.popleft()
                data = head + await stdout.readexactly(ANSWER_SIZE * len(futures) - 1)
                for index, future in enumerate(futures):
                    answer = data[index * ANSWER_SIZE : (index + 1) * ANSWER_SIZE]
                    sender = answer[1:] if answer[0] == 1 else None
                    self.recovered += sender is not None
                    if not future.done():
                        future.set_result(sender)
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            if self._alive:  # not a close(): the worker died
                log.error("sender recovery worker stopped: recovering inline from now on")
            self._fail_pending()

    def _fail_pending(self) -> None:
        self._alive = False
        for futures in self._inflight:
            _answer_inline(futures)
        self._inflight.clear()
        _answer_inline([future for _, future in self._batch])
        self._batch = []

    async def close(self) -> None:
        """End the worker (also after it died: its pipes and transport are released)."""
        process, self._process = self._process, None
        self._alive = False
        if process is None:
            return
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            # The reader ends at the worker's end of output; cancel it only if it hangs.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, timeout=5)
        self._fail_pending()


if __name__ == "__main__":
    # The node ends the worker by closing its stdin; a Ctrl-C meant for the node must not
    # kill the worker first (the terminal sends SIGINT to the whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(serve(sys.stdin.buffer, sys.stdout.buffer))
