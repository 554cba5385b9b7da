"""Typed transactions: legacy (with and without EIP-155), EIP-2930 (type 1),
EIP-1559 (type 2), EIP-4844 (type 3, network-free form) and EIP-7702 (type 4).

Owns RLP decoding/encoding, the signing hash, the transaction hash and sender
recovery (coincurve), done once when a transaction is decoded or signed; the
resulting ``Transaction`` is immutable and carries ``sender`` and ``hash``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from coincurve import PrivateKey

from jit import rlp
from jit.evm.precompiles.ecrecover import SECP256K1N, recover_address
from jit.evm.transaction import authorization_signing_hash
from statedb.types import Address, Hash32, keccak256

LEGACY, ACCESS_LIST, FEE_MARKET, BLOB, SET_CODE = 0, 1, 2, 3, 4
_HALF_N = SECP256K1N // 2


class InvalidTransactionEncoding(ValueError):
    """The bytes are not a well-formed, validly signed transaction."""


@dataclass(frozen=True, slots=True)
class AuthorizationTuple:
    """EIP-7702 authorization: [chain_id, address, nonce, y_parity, r, s]."""

    chain_id: int
    address: Address
    nonce: int
    y_parity: int
    r: int
    s: int

    def to_rlp(self) -> list[object]:
        return [self.chain_id, self.address, self.nonce, self.y_parity, self.r, self.s]


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction of any type; fields a type lacks keep their defaults."""

    tx_type: int
    chain_id: int | None
    nonce: int
    gas_limit: int
    to: Address | None
    value: int
    data: bytes
    gas_price: int = 0
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    access_list: tuple[tuple[Address, tuple[int, ...]], ...] = ()
    max_fee_per_blob_gas: int = 0
    blob_versioned_hashes: tuple[bytes, ...] = ()
    authorization_list: tuple[AuthorizationTuple, ...] = ()
    v: int = 0  # legacy: 27/28 or EIP-155 v; typed: y parity
    r: int = 0
    s: int = 0
    sender: Address = field(default=b"", compare=False)
    hash: Hash32 = field(default=b"", compare=False)

    # ------------------------------------------------------------ encoding

    def _access_list_rlp(self) -> list[object]:
        return [
            [address, [slot.to_bytes(32, "big") for slot in slots]]
            for address, slots in self.access_list
        ]

    def _payload(self, *, signed: bool) -> list[object]:
        to = self.to if self.to is not None else b""
        if self.tx_type == LEGACY:
            fields: list[object] = [
                self.nonce,
                self.gas_price,
                self.gas_limit,
                to,
                self.value,
                self.data,
            ]
            if signed:
                return [*fields, self.v, self.r, self.s]
            if self.chain_id is not None:  # EIP-155
                return [*fields, self.chain_id, 0, 0]
            return fields
        if self.tx_type == ACCESS_LIST:
            fields = [
                self.chain_id,
                self.nonce,
                self.gas_price,
                self.gas_limit,
                to,
                self.value,
                self.data,
                self._access_list_rlp(),
            ]
        else:
            fields = [
                self.chain_id,
                self.nonce,
                self.max_priority_fee_per_gas,
                self.max_fee_per_gas,
                self.gas_limit,
                to,
                self.value,
                self.data,
                self._access_list_rlp(),
            ]
            if self.tx_type == BLOB:
                fields += [self.max_fee_per_blob_gas, list(self.blob_versioned_hashes)]
            elif self.tx_type == SET_CODE:
                fields.append([auth.to_rlp() for auth in self.authorization_list])
        if signed:
            fields += [self.v, self.r, self.s]
        return fields

    def encode(self) -> bytes:
        """The canonical (network / block body) encoding."""
        body = rlp.encode(self._payload(signed=True))  # type: ignore[arg-type]
        return body if self.tx_type == LEGACY else bytes((self.tx_type,)) + body

    def signing_hash(self) -> Hash32:
        body = rlp.encode(self._payload(signed=False))  # type: ignore[arg-type]
        return keccak256(body if self.tx_type == LEGACY else bytes((self.tx_type,)) + body)

    def y_parity(self) -> int:
        return y_parity(self.tx_type, self.v)


def y_parity(tx_type: int, v: int) -> int:
    """The signature's y parity: typed transactions carry it as v; legacy ones encode it
    in v as 27/28, or as chain_id * 2 + 35/36 (EIP-155)."""
    if tx_type != LEGACY:
        return v
    if v in (27, 28):
        return v - 27
    return (v - 35) % 2


# ------------------------------------------------------------------- decode


def _uint(raw: object, name: str, bits: int = 256) -> int:
    try:
        return rlp.decode_uint(raw, max_bits=bits, name=name)  # type: ignore[arg-type]
    except rlp.RLPDecodingError as error:
        raise InvalidTransactionEncoding(str(error)) from None


def _bytes(raw: object, name: str, length: int | None = None) -> bytes:
    if not isinstance(raw, bytes):
        raise InvalidTransactionEncoding(f"{name}: expected bytes, got a list")
    if length is not None and len(raw) != length:
        raise InvalidTransactionEncoding(f"{name}: expected {length} bytes, got {len(raw)}")
    return raw


def _list(raw: object, name: str) -> list[rlp.Item]:
    if not isinstance(raw, list):
        raise InvalidTransactionEncoding(f"{name}: expected a list")
    return raw


def _to(raw: object) -> Address | None:
    to = _bytes(raw, "to")
    if to == b"":
        return None
    if len(to) != 20:
        raise InvalidTransactionEncoding(f"to: expected 20 bytes, got {len(to)}")
    return to


def _access_list(raw: object) -> tuple[tuple[Address, tuple[int, ...]], ...]:
    entries = []
    for entry in _list(raw, "accessList"):
        pair = _list(entry, "accessList entry")
        if len(pair) != 2:
            raise InvalidTransactionEncoding("accessList entry: expected [address, storageKeys]")
        address = _bytes(pair[0], "accessList address", 20)
        keys = tuple(
            int.from_bytes(_bytes(key, "storage key", 32), "big")
            for key in _list(pair[1], "storageKeys")
        )
        entries.append((address, keys))
    return tuple(entries)


def _expect_fields(fields: list[rlp.Item], count: int, kind: str) -> None:
    if len(fields) != count:
        raise InvalidTransactionEncoding(
            f"{kind} transaction: expected {count} fields, got {len(fields)}"
        )


def decode_transaction(raw: bytes, *, known_sender: Address | None = None) -> Transaction:
    """Decode and verify a signed transaction; recovers the sender once.

    ``known_sender`` is for transactions read back from our own blocks, whose
    sender was recovered on admission: it skips the 56 µs ecrecover.
    """
    if not raw:
        raise InvalidTransactionEncoding("empty transaction")
    try:
        if raw[0] >= 0xC0:
            tx_type = LEGACY
            decoded = rlp.decode(raw)
        elif raw[0] in (ACCESS_LIST, FEE_MARKET, BLOB, SET_CODE):
            tx_type = raw[0]
            decoded = rlp.decode(raw[1:])
        else:
            raise InvalidTransactionEncoding(f"transaction type {raw[0]} not supported")
    except rlp.RLPDecodingError as error:
        raise InvalidTransactionEncoding(f"rlp: {error}") from None
    fields = _list(decoded, "transaction")
    # Every field is checked before the signature: a malformed transaction costs no ecrecover.
    parsed: dict[str, Any]
    if tx_type == LEGACY:
        _expect_fields(fields, 9, "legacy")
        v = _uint(fields[6], "v")
        chain_id = None if v in (27, 28) else (v - 35) // 2 if v >= 35 else -1
        if chain_id == -1:
            raise InvalidTransactionEncoding(f"invalid legacy v value {v}")
        parsed = _gas_priced_fields(fields[0:6])
    elif tx_type == ACCESS_LIST:
        _expect_fields(fields, 11, "access list")
        chain_id = _uint(fields[0], "chainId")
        parsed = _gas_priced_fields(fields[1:7])
        parsed["access_list"] = _access_list(fields[7])
        v = _uint(fields[8], "yParity", 8)
    else:
        _expect_fields(fields, {FEE_MARKET: 12, BLOB: 14, SET_CODE: 13}[tx_type], f"type-{tx_type}")
        chain_id = _uint(fields[0], "chainId")
        parsed = {
            "nonce": _uint(fields[1], "nonce", 64),
            "max_priority_fee_per_gas": _uint(fields[2], "maxPriorityFeePerGas"),
            "max_fee_per_gas": _uint(fields[3], "maxFeePerGas"),
            "gas_limit": _uint(fields[4], "gas", 64),
            "to": _to(fields[5]),
            "value": _uint(fields[6], "value"),
            "data": _bytes(fields[7], "data"),
            "access_list": _access_list(fields[8]),
        }
        if tx_type == BLOB:
            parsed["max_fee_per_blob_gas"] = _uint(fields[9], "maxFeePerBlobGas")
            parsed["blob_versioned_hashes"] = tuple(
                _bytes(h, "blobVersionedHash", 32) for h in _list(fields[10], "blobVersionedHashes")
            )
        elif tx_type == SET_CODE:
            parsed["authorization_list"] = _authorizations(fields[9])
        if tx_type in (BLOB, SET_CODE) and parsed["to"] is None:
            raise InvalidTransactionEncoding(f"type-{tx_type} transaction cannot create a contract")
        v = _uint(fields[-3], "yParity", 8)
    r, s = _uint(fields[-2], "r"), _uint(fields[-1], "s")
    sender, tx_hash = _sender_and_hash(raw, tx_type, chain_id, v, r, s, known_sender)
    return Transaction(
        tx_type=tx_type, chain_id=chain_id, v=v, r=r, s=s, sender=sender, hash=tx_hash, **parsed
    )


def _gas_priced_fields(fields: list[rlp.Item]) -> dict[str, Any]:
    """[nonce, gasPrice, gas, to, value, data]: legacy and EIP-2930 share this run."""
    return {
        "nonce": _uint(fields[0], "nonce", 64),
        "gas_price": _uint(fields[1], "gasPrice"),
        "gas_limit": _uint(fields[2], "gas", 64),
        "to": _to(fields[3]),
        "value": _uint(fields[4], "value"),
        "data": _bytes(fields[5], "data"),
    }


def _authorizations(raw: object) -> tuple[AuthorizationTuple, ...]:
    auths = []
    for entry in _list(raw, "authorizationList"):
        item = _list(entry, "authorization")
        if len(item) != 6:
            raise InvalidTransactionEncoding("authorization: expected 6 fields")
        auths.append(
            AuthorizationTuple(
                _uint(item[0], "auth chainId"),
                _bytes(item[1], "auth address", 20),
                _uint(item[2], "auth nonce", 64),
                _uint(item[3], "auth yParity", 8),
                _uint(item[4], "auth r"),
                _uint(item[5], "auth s"),
            )
        )
    return tuple(auths)


def _sender_and_hash(
    raw: bytes,
    tx_type: int,
    chain_id: int | None,
    v: int,
    r: int,
    s: int,
    known_sender: Address | None,
) -> tuple[Address, Hash32]:
    """The recovered (or known) sender and the transaction hash of canonical ``raw``."""
    if known_sender is not None:
        return known_sender, keccak256(raw)
    if not (0 < r < SECP256K1N and 0 < s <= _HALF_N):  # EIP-2 low s
        raise InvalidTransactionEncoding("invalid transaction signature (r or s out of range)")
    if tx_type != LEGACY and v not in (0, 1):
        raise InvalidTransactionEncoding("invalid transaction signature (y parity not 0 or 1)")
    digest = _signing_hash_of(raw, tx_type, chain_id, v, r, s)
    sender = recover_address(digest, y_parity(tx_type, v), r, s)
    if sender is None:
        raise InvalidTransactionEncoding("invalid transaction signature (cannot recover sender)")
    return sender, keccak256(raw)


def _signing_hash_of(
    raw: bytes, tx_type: int, chain_id: int | None, v: int, r: int, s: int
) -> Hash32:
    """``Transaction.signing_hash`` cut from the raw bytes instead of re-encoded.

    The decoder accepts only canonical RLP, so the unsigned payload is the signed one
    without the encodings of v, r and s at its end (for EIP-155 legacy transactions
    followed by ``chain_id, 0, 0``); only the list header has to be rebuilt.
    """
    body = raw if tx_type == LEGACY else raw[1:]
    first = body[0]
    start = 1 if first < 0xF8 else 1 + first - 0xF7
    end = len(body) - len(rlp.encode(v)) - len(rlp.encode(r)) - len(rlp.encode(s))
    payload = body[start:end]
    if tx_type == LEGACY:
        if chain_id is not None:
            payload += rlp.encode(chain_id) + b"\x80\x80"
        return keccak256(rlp.list_header(len(payload)) + payload)
    return keccak256(raw[:1] + rlp.list_header(len(payload)) + payload)


# --------------------------------------------------------------------- sign


def sign_transaction(unsigned: Transaction, private_key: bytes) -> Transaction:
    """Sign ``unsigned`` (its v/r/s are ignored) with a 32-byte secp256k1 key."""
    signature = PrivateKey(private_key).sign_recoverable(unsigned.signing_hash(), hasher=None)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    parity = signature[64]
    if unsigned.tx_type == LEGACY:
        v = 27 + parity if unsigned.chain_id is None else unsigned.chain_id * 2 + 35 + parity
    else:
        v = parity
    signed = replace(unsigned, v=v, r=r, s=s)
    return replace(
        signed, sender=private_key_to_address(private_key), hash=keccak256(signed.encode())
    )


def private_key_to_address(private_key: bytes) -> Address:
    """The address of a 32-byte secp256k1 private key."""
    return keccak256(PrivateKey(private_key).public_key.format(compressed=False)[1:])[12:]


def sign_authorization(
    chain_id: int, address: Address, nonce: int, private_key: bytes
) -> AuthorizationTuple:
    """An EIP-7702 authorization signed by ``private_key``."""
    digest = authorization_signing_hash(chain_id, address, nonce)
    signature = PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    return AuthorizationTuple(
        chain_id,
        address,
        nonce,
        signature[64],
        int.from_bytes(signature[:32], "big"),
        int.from_bytes(signature[32:64], "big"),
    )
