"""Every cryptographic construction Ombud uses, in one place (DESIGN §5).

Only PyNaCl, cryptography, argon2-cffi and pycryptodome (Shamir secret sharing)
primitives are used; this module just
names the constructions and fixes their parameters. Nothing here logs, and no
exception raised here carries key material or plaintext.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import argon2.low_level
import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.secret
import nacl.utils
from Crypto.Protocol.SecretSharing import Shamir
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

FIELD_VERSION = 1
KEY_BYTES = 32


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong context or tampered."""

    def __init__(self):
        super().__init__("decryption failed")


class RecoveryKitError(ValueError):
    """A recovery kit text is malformed, truncated or for another organisation."""


# What a BinaryField gives back: bytes on SQLite, memoryview on PostgreSQL.
Blob = bytes | memoryview


def data_key_new() -> bytes:
    return nacl.utils.random(KEY_BYTES)


# --- field encryption -------------------------------------------------------


def _field_aad(case_id, field: str) -> bytes:
    return f"{case_id}|{field}|{FIELD_VERSION}".encode()


def field_encrypt(data_key: bytes, plaintext: bytes, *, case_id, field: str) -> bytes:
    """XChaCha20-Poly1305 with `case id|field|version` as associated data, so a
    ciphertext cannot be moved to another field or another case."""
    nonce = nacl.utils.random(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, _field_aad(case_id, field), nonce, data_key
    )
    return bytes([FIELD_VERSION]) + nonce + ciphertext


def field_decrypt(data_key: bytes, blob: Blob, *, case_id, field: str) -> bytes:
    blob = bytes(blob)
    if not blob or blob[0] != FIELD_VERSION:
        raise DecryptionError
    nonce_len = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
    nonce, ciphertext = blob[1 : 1 + nonce_len], blob[1 + nonce_len :]
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, _field_aad(case_id, field), nonce, data_key
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError from None


def json_encrypt(data_key: bytes, value, *, case_id, field: str) -> bytes:
    plaintext = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    return field_encrypt(data_key, plaintext, case_id=case_id, field=field)


def json_decrypt(data_key: bytes, blob: Blob, *, case_id, field: str):
    return json.loads(field_decrypt(data_key, blob, case_id=case_id, field=field))


# --- key pairs and wrapping -------------------------------------------------


def keypair_new() -> tuple[bytes, bytes]:
    """Return (public key, private key) of a new X25519 key pair."""
    private = nacl.public.PrivateKey.generate()
    return bytes(private.public_key), bytes(private)


def data_key_seal(public_key: Blob, data_key: bytes) -> bytes:
    """Wrap a case key for one holder; anyone can wrap, only the holder can open."""
    return nacl.public.SealedBox(nacl.public.PublicKey(bytes(public_key))).encrypt(data_key)


def data_key_unseal(private_key: Blob, wrapped: Blob) -> bytes:
    try:
        return nacl.public.SealedBox(nacl.public.PrivateKey(bytes(private_key))).decrypt(
            bytes(wrapped)
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError from None


def secretbox_seal(key: bytes, plaintext: bytes) -> bytes:
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext))


def secretbox_open(key: bytes, blob: Blob) -> bytes:
    try:
        return nacl.secret.SecretBox(key).decrypt(bytes(blob))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError from None


# --- the case inbox ---------------------------------------------------------
# Mail that answers an existing case arrives when nobody holding the case key is
# there. Each case has its own X25519 inbox key pair: the public half is stored
# in plain, the private half under the case key. Inbound content is sealed to
# the public half with the field's associated data inside the box, so it can
# still not be moved to another field or case.

INBOX_VERSION = 2


def inbox_seal(public_key: Blob, plaintext: bytes, *, case_id, field: str) -> bytes:
    box = nacl.public.SealedBox(nacl.public.PublicKey(bytes(public_key)))
    return bytes([INBOX_VERSION]) + box.encrypt(_field_aad(case_id, field) + b"\0" + plaintext)


def inbox_open(private_key: Blob, blob: Blob, *, case_id, field: str) -> bytes:
    blob = bytes(blob)
    if not blob or blob[0] != INBOX_VERSION:
        raise DecryptionError
    plaintext = data_key_unseal(private_key, blob[1:])
    prefix = _field_aad(case_id, field) + b"\0"
    if not plaintext.startswith(prefix):
        raise DecryptionError
    return plaintext[len(prefix) :]


def is_inbox_sealed(blob: Blob) -> bool:
    return bool(blob) and bytes(blob[:1]) == bytes([INBOX_VERSION])


# --- responder private key under the password -------------------------------


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int
    memory_cost: int  # KiB
    parallelism: int

    @classmethod
    def current(cls) -> "Argon2Params":
        return cls(**settings.OMBUD_ARGON2)

    def as_dict(self) -> dict:
        return {
            "time_cost": self.time_cost,
            "memory_cost": self.memory_cost,
            "parallelism": self.parallelism,
        }


def _password_key(password: str, salt: Blob, params: Argon2Params) -> bytes:
    return argon2.low_level.hash_secret_raw(
        password.encode(),
        bytes(salt),
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=argon2.low_level.Type.ID,
    )


def private_key_lock(private_key: bytes, password: str) -> tuple[bytes, bytes, dict]:
    """Encrypt a private key under an Argon2id key from the password.

    Returns (box, salt, params); the cost parameters are stored beside the box
    so they can be raised later without breaking existing keys."""
    salt = secrets.token_bytes(16)
    params = Argon2Params.current()
    box = secretbox_seal(_password_key(password, salt, params), private_key)
    return box, salt, params.as_dict()


def private_key_unlock(box: Blob, password: str, salt: Blob, params: dict) -> bytes:
    return secretbox_open(_password_key(password, salt, Argon2Params(**params)), box)


# --- server-side pepper derivations ----------------------------------------


def _hkdf(key_material: bytes, *, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(
        key_material
    )


def pepper_key(purpose: str) -> bytes:
    """A key for one purpose derived from the pepper, which is never in the database."""
    return _hkdf(settings.OMBUD_PEPPER.encode(), salt=None, info=b"ombud:" + purpose.encode())


# --- receipts ---------------------------------------------------------------

RECEIPT_BYTES = 20  # 160 bits, shown as 32 base32 characters in 8 groups of 4
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def receipt_new() -> str:
    raw = base64.b32encode(secrets.token_bytes(RECEIPT_BYTES)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def receipt_normalise(receipt: str) -> str:
    """Upper-case, drop separators and spaces, read 0/1/8 as O/I/B (they do not occur)."""
    text = "".join(ch for ch in receipt.upper() if ch not in "- \t\r\n")
    return text.translate(str.maketrans("018", "OIB"))


def receipt_lookup(receipt: str) -> bytes:
    """Keyed hash under which the case is found; a stolen database gives no receipts."""
    return hmac.new(
        pepper_key("receipt-lookup"), receipt_normalise(receipt).encode(), hashlib.sha256
    ).digest()


def receipt_wrap_key(receipt: str, salt: Blob) -> bytes:
    """The key receipts issued before issue 12 wrapped the case key under
    (a secret box); still opened, never made any more."""
    return _hkdf(receipt_normalise(receipt).encode(), salt=bytes(salt), info=b"ombud:receipt-wrap")


# A receipt is an X25519 key pair, like a responder's: the case key is sealed
# to its public half. So a new receipt can be made on the reporter's side
# with only its public key stored, and made to work later by anyone who holds
# the case key, without the receipt (ombud.cases.services.receipts).
RECEIPT_SEALED = 2
_RECEIPT_SEALED_LEN = 1 + nacl.bindings.crypto_box_SEALBYTES + KEY_BYTES


def receipt_keypair(receipt: str, salt: Blob) -> tuple[bytes, bytes]:
    """(public key, private key) of the key pair a receipt derives."""
    private = _hkdf(
        receipt_normalise(receipt).encode(), salt=bytes(salt), info=b"ombud:receipt-key"
    )
    return bytes(nacl.public.PrivateKey(private).public_key), private


def receipt_wrap(public_key: Blob, data_key: bytes) -> bytes:
    """The case key for a receipt, from the receipt's public key alone."""
    return bytes([RECEIPT_SEALED]) + data_key_seal(public_key, data_key)


def receipt_unwrap(receipt: str, salt: Blob, wrap: Blob) -> bytes:
    """The case key a receipt opens; DecryptionError for any other receipt.
    A wrap of an older receipt (a secret box, 72 bytes) is told apart by its
    length from a sealed one (81)."""
    wrap = bytes(wrap)
    if len(wrap) == _RECEIPT_SEALED_LEN and wrap[0] == RECEIPT_SEALED:
        return data_key_unseal(receipt_keypair(receipt, salt)[1], wrap[1:])
    return secretbox_open(receipt_wrap_key(receipt, salt), wrap)


# --- organisation recovery kit ----------------------------------------------

KIT_PREFIX = "OMBUD-RECOVERY-1"


def _kit_checksum(org_id: int, private_key: bytes) -> bytes:
    return hashlib.sha256(f"{KIT_PREFIX}|{org_id}|".encode() + private_key).digest()[:4]


def recovery_kit_encode(org_id: int, private_key: bytes) -> str:
    body = base64.b32encode(private_key + _kit_checksum(org_id, private_key)).decode().rstrip("=")
    groups = " ".join(body[i : i + 4] for i in range(0, len(body), 4))
    return f"{KIT_PREFIX} ORG-{org_id} {groups}"


def recovery_kit_decode(text: str, *, org_id: int) -> bytes:
    """Return the private key in a kit, or raise RecoveryKitError with a reason a
    person can act on (never the key)."""
    parts = text.split()
    if len(parts) < 3 or parts[0] != KIT_PREFIX or not parts[1].startswith("ORG-"):
        raise RecoveryKitError("This is not an Ombud recovery kit.")
    if parts[1] != f"ORG-{org_id}":
        raise RecoveryKitError("This recovery kit belongs to another organisation.")
    body = "".join(parts[2:]).upper()
    if any(ch not in _B32 for ch in body):
        raise RecoveryKitError("The recovery kit contains characters that do not belong in it.")
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        raise RecoveryKitError("The recovery kit is incomplete.") from None
    if len(raw) != KEY_BYTES + 4:
        raise RecoveryKitError("The recovery kit is incomplete.")
    private_key, checksum = raw[:KEY_BYTES], raw[KEY_BYTES:]
    if not hmac.compare_digest(checksum, _kit_checksum(org_id, private_key)):
        raise RecoveryKitError("The recovery kit has a typo: its checksum does not match.")
    return private_key


# --- the recovery kit split among trustees ---------------------------------------
# The recovery private key is split k-of-n with Shamir's secret sharing
# (pycryptodome, over GF(2^128)): its two 16-byte halves are split with the
# same k and n, and share i is the pair of half-shares with index i. Fewer than
# k shares say nothing about the key. A printed share carries the organisation,
# its index, k, a short id of the kit (from the public key, so shares of a
# replaced kit are told apart) and a checksum over all of it.

SHARE_PREFIX = "OMBUD-SHARE-1"
SHARE_MAX = 20  # trustees
_SHARE_BODY = len(base64.b32encode(bytes(KEY_BYTES + 4)).rstrip(b"="))  # 58 characters


@dataclass(frozen=True)
class KitShare:
    org_id: int
    index: int
    threshold: int
    kit_id: str
    value: bytes  # 32 bytes: the shares of the key's two halves

    def __repr__(self):  # never the share's value
        return f"KitShare(org={self.org_id}, index={self.index}, threshold={self.threshold})"


def recovery_kit_id(public_key: Blob) -> str:
    digest = hashlib.sha256(b"ombud:recovery-kit-id|" + bytes(public_key)).digest()
    return base64.b32encode(digest).decode()[:4]


def _share_checksum(share: KitShare) -> bytes:
    head = f"{SHARE_PREFIX}|{share.org_id}|{share.index}|{share.threshold}|{share.kit_id}|"
    return hashlib.sha256(head.encode() + share.value).digest()[:4]


def recovery_shares_split(
    org_id: int, private_key: bytes, *, threshold: int, count: int, public_key: Blob
) -> list[KitShare]:
    """Split a recovery private key into `count` shares, any `threshold` of
    which rebuild it."""
    if not 1 <= threshold <= count <= SHARE_MAX:
        raise ValueError("need 1 <= threshold <= count <= SHARE_MAX")
    halves = [Shamir.split(threshold, count, bytes(private_key[i : i + 16])) for i in (0, 16)]
    kit_id = recovery_kit_id(public_key)
    return [
        KitShare(org_id, index, threshold, kit_id, low + high)
        for (index, low), (_, high) in zip(*halves, strict=True)
    ]


def recovery_shares_combine(shares, *, at: int = 0) -> bytes:
    """The key the shares were split from, or with `at` the value of the share
    with that index (so any trustee's share can be printed again). With fewer
    than k shares the result is just wrong: check it against the public key.

    Points are shifted by `at` (x -> x XOR at, which is x + at in GF(2^128)),
    so the interpolation at 0 that Shamir.combine does gives the value at `at`."""
    return b"".join(
        Shamir.combine([(s.index ^ at, s.value[i : i + 16]) for s in shares]) for i in (0, 16)
    )


def recovery_share_encode(share: KitShare) -> str:
    body = base64.b32encode(share.value + _share_checksum(share)).decode().rstrip("=")
    groups = " ".join(body[i : i + 4] for i in range(0, len(body), 4))
    return (
        f"{SHARE_PREFIX} ORG-{share.org_id} SHARE-{share.index} NEEDS-{share.threshold} "
        f"KIT-{share.kit_id} {groups}"
    )


def _header_number(token: str, label: str) -> int | None:
    number = token.removeprefix(label + "-")
    if token == number or not number.isdigit() or len(number) > 6:
        return None
    return int(number)


def recovery_share_decode(tokens: list[str], *, org_id: int) -> KitShare:
    """One share from its words (upper-cased), or RecoveryKitError with a
    reason a person can act on (never any of the share)."""
    if len(tokens) < 2 or tokens[0] != SHARE_PREFIX or _header_number(tokens[1], "ORG") is None:
        raise RecoveryKitError(
            "This is not a share of an Ombud recovery kit: each share starts with "
            f"{SHARE_PREFIX} ORG-…"
        )
    index = _header_number(tokens[2], "SHARE") if len(tokens) > 2 else None
    name = f"Share {index}" if index else "A share"
    if _header_number(tokens[1], "ORG") != org_id:
        raise RecoveryKitError(f"{name} belongs to another organisation.")
    threshold = _header_number(tokens[3], "NEEDS") if len(tokens) > 3 else None
    kit_id = tokens[4].removeprefix("KIT-") if len(tokens) > 4 else ""
    if not index or not threshold or len(kit_id) != 4 or len(tokens) < 6:
        raise RecoveryKitError(f"{name} is incomplete: its first words are missing or mistyped.")
    body = "".join(tokens[5:])
    if any(ch not in _B32 for ch in body):
        raise RecoveryKitError(f"{name} contains characters that do not belong in it.")
    if len(body) < _SHARE_BODY:
        raise RecoveryKitError(f"{name} is incomplete.")
    if len(body) > _SHARE_BODY:
        raise RecoveryKitError(f"{name} is too long: two shares may have run together.")
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    share = KitShare(org_id, index, threshold, kit_id, raw[:KEY_BYTES])
    if not hmac.compare_digest(raw[KEY_BYTES:], _share_checksum(share)):
        raise RecoveryKitError(
            f"{name} has a typo: its checksum does not match. Check it against the paper."
        )
    return share


def recovery_kit_split_text(text: str) -> list[list[str]]:
    """The words of each kit or share in a text holding one or more of them."""
    entries: list[list[str]] = []
    for word in text.upper().split():
        if word in (SHARE_PREFIX, KIT_PREFIX) or not entries:
            entries.append([])
        entries[-1].append(word)
    return entries


# --- reporter email (to find a case for a new receipt) and bearer secrets ---


def email_normalise(email: str) -> str:
    return email.strip().lower()


def email_lookup(email: str) -> bytes:
    return hmac.new(
        pepper_key("email-lookup"), email_normalise(email).encode(), hashlib.sha256
    ).digest()


def token_hash(purpose: str, token: bytes) -> bytes:
    """Keyed hash under which a bearer secret (cookie, link token) is stored."""
    return hmac.new(pepper_key(purpose), token, hashlib.sha256).digest()


def token_wrap_key(purpose: str, token: bytes) -> bytes:
    return _hkdf(token, salt=None, info=b"ombud:" + purpose.encode())
