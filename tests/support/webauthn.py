"""A software security key for tests: a registration that allauth stores and
parses like a real one, without a browser (the browser tests use Chromium's
virtual authenticator instead)."""

import os

from allauth.mfa.models import Authenticator
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import sha256, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)


def registration(rp_id: str = "testserver") -> dict:
    """A WebAuthn registration response with "none" attestation, as
    webauthn-json serialises it for allauth."""
    key = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(16)
    credential = AttestedCredentialData.create(
        b"\0" * 16, credential_id, ES256.from_cryptography_key(key.public_key())
    )
    auth_data = AuthenticatorData.create(
        sha256(rp_id.encode()),
        AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT,
        0,
        credential,
    )
    client_data = CollectedClientData.create(
        type="webauthn.create", challenge=os.urandom(32), origin=f"http://{rp_id}"
    )
    return {
        "type": "public-key",
        "id": websafe_encode(credential_id),
        "rawId": websafe_encode(credential_id),
        "response": {
            "clientDataJSON": websafe_encode(client_data),
            "attestationObject": websafe_encode(AttestationObject.create("none", auth_data, {})),
        },
        "clientExtensionResults": {},
    }


def security_key_add(user, name: str = "Blue YubiKey") -> Authenticator:
    return Authenticator.objects.create(
        user=user,
        type=Authenticator.Type.WEBAUTHN,
        data={"name": name, "credential": registration()},
    )
