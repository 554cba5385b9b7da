"""Dev keys from a mnemonic: BIP-39 seeds and BIP-32 derivation paths.

Owns ``check_mnemonic`` (BIP-39: English words, the checksum), ``seed_from_mnemonic``
(PBKDF2-HMAC-SHA512, 2048 rounds, NFKD) and ``derive_key`` (BIP-32 private derivation
along a path such as ``m/44'/60'/0'/0/3``), the keys anvil and Hardhat give their dev
accounts. Written here on hashlib, hmac and coincurve because eth-account's
``hdaccount`` costs about a second of imports at every start (it pulls in py_ecc's BLS
pairing code), and a node must answer its first request fast (issue 21). The English
word list is read from eth-account's package data without importing the package.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import unicodedata
from functools import cache
from pathlib import Path
from typing import Final

from coincurve import PrivateKey

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HARDENED: Final = 1 << 31
WORD_COUNTS: Final = (12, 15, 18, 21, 24)


class MnemonicError(ValueError):
    """A mnemonic that is not BIP-39 English, or a malformed derivation path."""


@cache
def english_words() -> tuple[str, ...]:
    """The BIP-39 English list (2048 words), from eth-account's package data."""
    spec = importlib.util.find_spec("eth_account")
    if spec is None or not spec.submodule_search_locations:
        raise MnemonicError("the BIP-39 word list (eth-account's package data) is missing")
    path = Path(next(iter(spec.submodule_search_locations))) / "hdaccount/wordlist/english.txt"
    words = tuple(path.read_text(encoding="utf-8").split())
    if len(words) != 2048:
        raise MnemonicError(f"{path} holds {len(words)} words, not BIP-39's 2048")
    return words


def normalised(mnemonic: str) -> str:
    return " ".join(unicodedata.normalize("NFKD", mnemonic).split())


def check_mnemonic(mnemonic: str) -> None:
    """Raise ``MnemonicError`` unless ``mnemonic`` is 12-24 BIP-39 English words whose
    checksum holds."""
    words = normalised(mnemonic).lower().split()
    if len(words) not in WORD_COUNTS:
        raise MnemonicError("mnemonic must have 12, 15, 18, 21 or 24 words")
    index = {word: i for i, word in enumerate(english_words())}
    unknown = [word for word in words if word not in index]
    if unknown:
        shown = ", ".join(repr(word[:20]) for word in unknown[:3])
        raise MnemonicError(f"mnemonic has words outside the BIP-39 English list: {shown}")
    bits = 0
    for word in words:
        bits = (bits << 11) | index[word]
    checksum_bits = len(words) * 11 // 33
    entropy = (bits >> checksum_bits).to_bytes(len(words) * 11 * 32 // 33 // 8, "big")
    expected = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    if bits & ((1 << checksum_bits) - 1) != expected:
        raise MnemonicError("mnemonic checksum does not match (a word is wrong or misplaced)")


def seed_from_mnemonic(mnemonic: str, passphrase: str = "") -> bytes:
    """BIP-39's 64-byte seed (the mnemonic is not checked here: ``check_mnemonic``)."""
    words = normalised(mnemonic).encode()
    salt = ("mnemonic" + unicodedata.normalize("NFKD", passphrase)).encode()
    return hashlib.pbkdf2_hmac("sha512", words, salt, 2048)


def _path_indices(path: str) -> list[int]:
    parts = path.split("/")
    if parts[0] != "m":
        raise MnemonicError(f"derivation path must start with m/: {path[:60]!r}")
    indices = []
    for part in parts[1:]:
        hardened = part.endswith("'")
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or int(digits) >= HARDENED:
            raise MnemonicError(f"bad derivation path step {part[:20]!r} in {path[:60]!r}")
        indices.append(int(digits) + (HARDENED if hardened else 0))
    return indices


def derive_key(seed: bytes, path: str) -> bytes:
    """The BIP-32 private key at ``path`` under ``seed``."""
    digest = hmac.digest(b"Bitcoin seed", seed, "sha512")
    key, chain = int.from_bytes(digest[:32], "big"), digest[32:]
    for index in _path_indices(path):
        private = key.to_bytes(32, "big")
        if index >= HARDENED:
            data = b"\x00" + private + index.to_bytes(4, "big")
        else:
            data = PrivateKey(private).public_key.format(compressed=True) + index.to_bytes(4, "big")
        digest = hmac.digest(chain, data, "sha512")
        tweak = int.from_bytes(digest[:32], "big")
        key, chain = (tweak + key) % SECP256K1_N, digest[32:]
        if tweak >= SECP256K1_N or key == 0:  # probability below 2^-127 (BIP-32 says: skip)
            raise MnemonicError(f"derivation at {path} gives an invalid key; use the next index")
    return key.to_bytes(32, "big")
