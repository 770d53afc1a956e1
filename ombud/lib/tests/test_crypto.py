"""The constructions of DESIGN §5: what opens, and everything that must not."""

import base64
import itertools

import pytest

from ombud.lib import crypto
from ombud.lib.crypto import DecryptionError, RecoveryKitError

CASE_ID = "3f0e4a52-6d55-4c1e-9d7e-3a1f2b4c5d6e"
OTHER_CASE_ID = "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
FIELD = "submission/1/content"
SECRET = "She said “don't tell anyone” — 日本語, 🙂".encode()


# --- field encryption ---------------------------------------------------------------


@pytest.fixture
def key():
    return crypto.data_key_new()


@pytest.fixture
def blob(key):
    return crypto.field_encrypt(key, SECRET, case_id=CASE_ID, field=FIELD)


def test_field_round_trip(key, blob):
    assert crypto.field_decrypt(key, blob, case_id=CASE_ID, field=FIELD) == SECRET
    assert SECRET not in blob


def test_field_round_trip_of_json_and_memoryview(key):
    value = {"description": "x" * 20_000, "location": "Hall B — 日本"}
    blob = crypto.json_encrypt(key, value, case_id=CASE_ID, field=FIELD)
    # The database hands BinaryField values back as memoryview.
    assert crypto.json_decrypt(key, memoryview(blob), case_id=CASE_ID, field=FIELD) == value


def test_same_plaintext_encrypts_differently_each_time(key, blob):
    again = crypto.field_encrypt(key, SECRET, case_id=CASE_ID, field=FIELD)
    assert again != blob
    assert blob[0] == crypto.FIELD_VERSION
    assert len(blob) == 1 + 24 + len(SECRET) + 16  # version, nonce, ciphertext, tag


def test_data_keys_are_random_256_bit(key):
    assert len(key) == 32
    assert crypto.data_key_new() != key


def test_wrong_key_fails(blob):
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(crypto.data_key_new(), blob, case_id=CASE_ID, field=FIELD)


def test_ciphertext_moved_to_another_field_fails(key, blob):
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(key, blob, case_id=CASE_ID, field="submission/2/content")


def test_ciphertext_moved_to_another_case_fails(key, blob):
    """Even under the same key: the case id is bound in as associated data."""
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(key, blob, case_id=OTHER_CASE_ID, field=FIELD)


def test_swapping_two_fields_of_one_case_fails(key):
    a = crypto.field_encrypt(key, b"reporter name", case_id=CASE_ID, field="a")
    b = crypto.field_encrypt(key, b"reported name", case_id=CASE_ID, field="b")
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(key, b, case_id=CASE_ID, field="a")
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(key, a, case_id=CASE_ID, field="b")


@pytest.mark.parametrize("position", [1, 12, 24, 25, 30, -17, -1], ids=lambda p: f"byte {p}")
def test_any_tampered_byte_fails(key, blob, position):
    """Nonce, ciphertext and tag are all covered."""
    tampered = bytearray(blob)
    tampered[position] ^= 0x01
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(key, bytes(tampered), case_id=CASE_ID, field=FIELD)


def test_truncated_ciphertext_fails(key, blob):
    for cut in (blob[:-1], blob[:25], blob[:1], b""):
        with pytest.raises(DecryptionError):
            crypto.field_decrypt(key, cut, case_id=CASE_ID, field=FIELD)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version_byte_fails(key, blob, version):
    with pytest.raises(DecryptionError):
        crypto.field_decrypt(key, bytes([version]) + blob[1:], case_id=CASE_ID, field=FIELD)


def test_decryption_error_carries_nothing_secret(key, blob):
    with pytest.raises(DecryptionError) as excinfo:
        crypto.field_decrypt(crypto.data_key_new(), blob, case_id=CASE_ID, field=FIELD)
    assert str(excinfo.value) == "decryption failed"
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


# --- case key wrapped for a person ---------------------------------------------------


def test_sealed_box_wrap_and_unwrap(key):
    public, private = crypto.keypair_new()
    assert len(public) == len(private) == 32 and public != private
    wrapped = crypto.data_key_seal(public, key)
    assert key not in wrapped
    assert crypto.data_key_unseal(private, wrapped) == key
    # Anyone can wrap (a report arrives with no responder online); each wrap differs.
    assert crypto.data_key_seal(public, key) != wrapped


def test_sealed_box_with_wrong_private_key_fails(key):
    public, _ = crypto.keypair_new()
    _, other_private = crypto.keypair_new()
    with pytest.raises(DecryptionError):
        crypto.data_key_unseal(other_private, crypto.data_key_seal(public, key))


def test_tampered_sealed_box_fails(key):
    public, private = crypto.keypair_new()
    wrapped = bytearray(crypto.data_key_seal(public, key))
    wrapped[-1] ^= 0x80
    with pytest.raises(DecryptionError):
        crypto.data_key_unseal(private, bytes(wrapped))


# --- the responder's private key under their password --------------------------------


def test_private_key_lock_and_unlock():
    _, private = crypto.keypair_new()
    box, salt, params = crypto.private_key_lock(private, "correct horse battery staple")
    assert private not in box
    assert len(salt) == 16
    assert crypto.private_key_unlock(box, "correct horse battery staple", salt, params) == private


def test_private_key_wrong_password_fails():
    _, private = crypto.keypair_new()
    box, salt, params = crypto.private_key_lock(private, "correct horse battery staple")
    for wrong in ("correct horse battery stapl", "Correct horse battery staple", ""):
        with pytest.raises(DecryptionError):
            crypto.private_key_unlock(box, wrong, salt, params)


def test_private_key_wrong_salt_fails():
    _, private = crypto.keypair_new()
    box, _salt, params = crypto.private_key_lock(private, "pw")
    with pytest.raises(DecryptionError):
        crypto.private_key_unlock(box, "pw", bytes(16), params)


def test_private_key_opens_after_argon2_cost_is_raised(settings):
    """The cost parameters are stored beside the box, so raising them later
    does not lock anyone out."""
    _, private = crypto.keypair_new()
    box, salt, params = crypto.private_key_lock(private, "pw")
    assert params == settings.OMBUD_ARGON2
    settings.OMBUD_ARGON2 = {"time_cost": 2, "memory_cost": 2048, "parallelism": 1}
    assert crypto.private_key_unlock(box, "pw", salt, params) == private
    _, _, new_params = crypto.private_key_lock(private, "pw")
    assert new_params == {"time_cost": 2, "memory_cost": 2048, "parallelism": 1}


# --- receipts -------------------------------------------------------------------------


def test_receipt_has_at_least_128_random_bits():
    receipt = crypto.receipt_new()
    groups = receipt.split("-")
    assert all(len(g) == 4 for g in groups)
    raw = base64.b32decode(crypto.receipt_normalise(receipt))
    assert len(raw) * 8 >= 128
    assert len({crypto.receipt_new() for _ in range(200)}) == 200


def test_receipt_typed_differently_finds_the_same_case():
    receipt = crypto.receipt_new()
    lookup = crypto.receipt_lookup(receipt)
    bare = receipt.replace("-", "")
    for typed in (
        receipt.lower(),
        bare,
        bare.lower(),
        receipt.replace("-", " "),
        f"  {receipt}\n",
        " ".join(bare[i : i + 4] for i in range(0, len(bare), 4)).lower(),
    ):
        assert crypto.receipt_lookup(typed) == lookup, typed


def test_receipt_lookalike_digits_are_read_as_letters():
    # Base32 has no 0, 1 or 8; a reporter who types them meant O, I and B.
    receipt = "OIBA-" + crypto.receipt_new()[5:]
    assert crypto.receipt_lookup(receipt.replace("O", "0", 1).replace("I", "1", 1)) == (
        crypto.receipt_lookup(receipt)
    )
    assert crypto.receipt_lookup(receipt.replace("B", "8", 1)) == crypto.receipt_lookup(receipt)


def test_different_receipts_have_different_lookups():
    a, b = crypto.receipt_new(), crypto.receipt_new()
    assert crypto.receipt_lookup(a) != crypto.receipt_lookup(b)
    assert len(crypto.receipt_lookup(a)) == 32
    assert crypto.receipt_normalise(a).encode() not in crypto.receipt_lookup(a)


def test_receipt_lookup_depends_on_the_pepper(settings):
    receipt = crypto.receipt_new()
    settings.OMBUD_PEPPER = "pepper-one"
    one = crypto.receipt_lookup(receipt)
    settings.OMBUD_PEPPER = "pepper-two"
    two = crypto.receipt_lookup(receipt)
    assert one != two
    settings.OMBUD_PEPPER = "pepper-one"
    assert crypto.receipt_lookup(receipt) == one


def test_receipt_wrap_key_opens_only_with_the_receipt_and_salt(key):
    receipt = crypto.receipt_new()
    salt = bytes(range(16))
    box = crypto.secretbox_seal(crypto.receipt_wrap_key(receipt, salt), key)
    assert crypto.secretbox_open(crypto.receipt_wrap_key(receipt.lower(), salt), box) == key
    with pytest.raises(DecryptionError):
        crypto.secretbox_open(crypto.receipt_wrap_key(crypto.receipt_new(), salt), box)
    with pytest.raises(DecryptionError):
        crypto.secretbox_open(crypto.receipt_wrap_key(receipt, bytes(16)), box)


# --- the organisation's recovery kit -------------------------------------------------


@pytest.fixture
def kit():
    _, private = crypto.keypair_new()
    return private, crypto.recovery_kit_encode(42, private)


def test_recovery_kit_round_trip(kit):
    private, text = kit
    assert text.startswith("OMBUD-RECOVERY-1 ORG-42 ")
    assert crypto.recovery_kit_decode(text, org_id=42) == private


def test_recovery_kit_survives_being_retyped(kit):
    private, text = kit
    head, body = text[:24], text[24:]
    retyped = head + "\n" + body.lower().replace(" ", "  \n ") + "\n"
    assert crypto.recovery_kit_decode(retyped, org_id=42) == private


def test_recovery_kit_of_another_organisation(kit):
    _, text = kit
    with pytest.raises(RecoveryKitError, match="belongs to another organisation"):
        crypto.recovery_kit_decode(text, org_id=43)


def test_recovery_kit_relabelled_for_another_organisation(kit):
    """The checksum covers the organisation id: editing the label does not help."""
    _, text = kit
    with pytest.raises(RecoveryKitError, match="checksum does not match"):
        crypto.recovery_kit_decode(text.replace("ORG-42", "ORG-43"), org_id=43)


@pytest.mark.parametrize("cut", [1, 2, 5, 20, 40])
def test_truncated_recovery_kit(kit, cut):
    _, text = kit
    with pytest.raises(RecoveryKitError, match="incomplete"):
        crypto.recovery_kit_decode(text[:-cut].rstrip(), org_id=42)


KIT_HEAD = len("OMBUD-RECOVERY-1 ORG-42 ")


def _typo(text: str, i: int) -> str:
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]


def test_recovery_kit_with_a_typo_anywhere(kit):
    _, text = kit
    # The last character carries two padding bits, so stop before it.
    for i in range(KIT_HEAD, len(text) - 1):
        if text[i] != " ":
            with pytest.raises(RecoveryKitError, match="typo"):
                crypto.recovery_kit_decode(_typo(text, i), org_id=42)


def test_recovery_kit_with_a_character_that_does_not_belong(kit):
    _, text = kit
    with pytest.raises(RecoveryKitError, match="characters that do not belong"):
        crypto.recovery_kit_decode(text[:-3] + "!" + text[-2:], org_id=42)


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "hello world", "OMBUD-RECOVERY-1", "OMBUD-RECOVERY-2 ORG-42 AAAA", "ORG-42 AAAA"],
)
def test_garbage_is_not_a_recovery_kit(garbage):
    with pytest.raises(RecoveryKitError, match="not an Ombud recovery kit"):
        crypto.recovery_kit_decode(garbage, org_id=42)


def test_recovery_kit_errors_never_echo_the_key(kit):
    private, text = kit
    body = text.split(" ", 2)[2]
    attempts = [(text, 43), (text[:-5], 42), (_typo(text, KIT_HEAD), 42)]
    for attempt, org_id in attempts:
        with pytest.raises(RecoveryKitError) as excinfo:
            crypto.recovery_kit_decode(attempt, org_id=org_id)
        message = str(excinfo.value)
        assert body[:8] not in message and private.hex() not in message


# --- the recovery kit split among trustees (issue 12) --------------------------------


def _split(k=2, n=3):
    public, private = crypto.keypair_new()
    shares = crypto.recovery_shares_split(42, private, threshold=k, count=n, public_key=public)
    return private, public, [crypto.recovery_share_encode(s) for s in shares]


def _decode(text, org_id=42):
    words = crypto.recovery_kit_split_text(text)[0]
    return crypto.recovery_share_decode(words, org_id=org_id)


@pytest.mark.parametrize(("k", "n"), [(1, 1), (2, 2), (2, 3), (3, 5), (2, 20)])
def test_any_k_shares_rebuild_the_key_and_fewer_do_not(k, n):
    private, _public, texts = _split(k, n)
    shares = [_decode(t) for t in texts]
    for chosen in itertools.combinations(shares, k):
        assert crypto.recovery_shares_combine(chosen) == private
    if k > 1:
        for chosen in itertools.combinations(shares, k - 1):
            assert crypto.recovery_shares_combine(chosen) != private


def test_a_share_says_whose_organisation_which_share_and_how_many_are_needed():
    _, public, texts = _split(2, 3)
    kit_id = crypto.recovery_kit_id(public)
    for i, text in enumerate(texts, start=1):
        assert text.startswith(f"OMBUD-SHARE-1 ORG-42 SHARE-{i} NEEDS-2 KIT-{kit_id} ")
        groups = text.split(" ")[5:]
        assert all(len(g) == 4 for g in groups[:-1]) and set("".join(groups)) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        )


def test_any_share_is_printed_again_from_k_others_exactly_as_before():
    _, _, texts = _split(3, 5)
    shares = [_decode(t) for t in texts]
    for chosen in itertools.combinations(shares, 3):
        for target in shares:
            again = crypto.recovery_shares_combine(chosen, at=target.index)
            assert again == target.value


def test_shares_survive_being_retyped_and_several_are_told_apart():
    _, _, texts = _split(2, 3)
    messy = "\n\n".join(t.lower().replace(" ", "  \n ") for t in texts[:2])
    entries = crypto.recovery_kit_split_text(messy)
    assert [crypto.recovery_share_decode(w, org_id=42).index for w in entries] == [1, 2]


def test_a_share_with_a_typo_anywhere_is_caught_and_names_the_share():
    _, _, texts = _split(2, 3)
    text = texts[1]
    # Any character after the prefix (the last carries two padding bits).
    for i in range(len("OMBUD-SHARE-1 "), len(text) - 1):
        if text[i] != " ":
            with pytest.raises(RecoveryKitError):
                _decode(_typo(text, i))
    body_at = len(text) - 10
    with pytest.raises(RecoveryKitError, match="Share 2 has a typo"):
        _decode(_typo(text, body_at))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("ORG-42", "ORG-43"), "Share 2 belongs to another organisation"),
        (lambda t: t[:-6].rstrip(), "Share 2 is incomplete"),
        (lambda t: t + " ABCD", "too long"),
        (lambda t: t[:-2] + "!" + t[-1:], "characters that do not belong"),
        (lambda t: " ".join(t.split(" ")[:3]), "Share 2 is incomplete"),
        (lambda t: "hello " + t, "not a share of an Ombud recovery kit"),
    ],
)
def test_bad_shares_are_refused_with_a_reason_and_never_echoed(change, message):
    _, _, texts = _split(2, 3)
    with pytest.raises(RecoveryKitError, match=message) as excinfo:
        _decode(change(texts[1]))
    body = texts[1].split(" ", 5)[5]
    assert body[:8] not in str(excinfo.value)
    assert "value" not in repr(_decode(texts[1]))
