"""sequencer.hd_wallet against BIP-39's published vectors and eth-account's derivation
(the reference it replaces at start-up), with malformed mnemonics and paths refused."""

from __future__ import annotations

import pytest
from eth_account.hdaccount import key_from_seed
from eth_account.hdaccount import seed_from_mnemonic as reference_seed
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.hd_wallet import (
    MnemonicError,
    check_mnemonic,
    derive_key,
    english_words,
    seed_from_mnemonic,
)

TEST_JUNK = "test test test test test test test test test test test junk"


def test_bip39_vector_with_passphrase() -> None:
    # BIP-39's first English vector (passphrase "TREZOR").
    seed = seed_from_mnemonic("abandon " * 11 + "about", "TREZOR")
    assert seed.hex().startswith("c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e534")


def test_the_dev_accounts_keys_are_anvils() -> None:
    key = derive_key(seed_from_mnemonic(TEST_JUNK), "m/44'/60'/0'/0/0")
    assert key.hex() == "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@settings(max_examples=25, deadline=None)
@given(
    entropy=st.binary(min_size=16, max_size=16),
    path=st.lists(st.tuples(st.integers(0, 2**31 - 1), st.booleans()), min_size=1, max_size=5),
)
def test_equals_eth_account(entropy: bytes, path: list[tuple[int, bool]]) -> None:
    from eth_account.hdaccount.mnemonic import Language, Mnemonic

    mnemonic = Mnemonic(Language.ENGLISH).to_mnemonic(entropy)
    check_mnemonic(mnemonic)
    text = "m/" + "/".join(f"{i}'" if hard else str(i) for i, hard in path)
    seed = seed_from_mnemonic(mnemonic)
    assert seed == reference_seed(mnemonic, "")
    assert derive_key(seed, text) == bytes(key_from_seed(seed, text))


@pytest.mark.parametrize(
    ("mnemonic", "message"),
    [
        ("test " * 12, "checksum"),
        ("abandon " * 12, "checksum"),
        ("zzz " * 12, "outside the BIP-39 English list"),
        ("test " * 11, "12, 15, 18, 21 or 24 words"),
        ("", "12, 15, 18, 21 or 24 words"),
        ("x" * 10_000, "12, 15, 18, 21 or 24 words"),
        (("\u00e9" * 40 + " ") * 12, "outside the BIP-39 English list"),
    ],
)
def test_bad_mnemonics_are_refused(mnemonic: str, message: str) -> None:
    with pytest.raises(MnemonicError, match=message):
        check_mnemonic(mnemonic)


def test_case_and_spacing_do_not_matter_to_the_check() -> None:
    check_mnemonic("  " + TEST_JUNK.upper().replace(" ", "\t "))


@pytest.mark.parametrize("path", ["44'/60'", "m/x", "m/1''", "m/2147483648", "m/-1", "m/"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(MnemonicError):
        derive_key(b"\x00" * 64, path)


def test_the_word_list_is_bip39s() -> None:
    words = english_words()
    assert len(words) == 2048 and words[0] == "abandon" and words[-1] == "zoo"
