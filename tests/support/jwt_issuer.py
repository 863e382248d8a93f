"""An identity provider for tests: an RSA key whose JWKS the auth service trusts, and tokens."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.stackmesh.test/"
AUDIENCE = "stackmesh"


class JwtIssuer:
    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def config(self, jwks_file: Path) -> dict:
        """The distribution's `auth.jwt` section trusting this issuer."""
        return {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks_file": str(jwks_file),
            "attribute_claims": {"team": "groups", "roles": "roles"},
        }

    def token(self, subject: str, *, expires_in: int = 300, issuer: str = ISSUER, audience: str = AUDIENCE, **claims: object) -> str:
        now = int(time.time())
        payload = {"sub": subject, "iss": issuer, "aud": audience, "iat": now, "exp": now + expires_in, **claims}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})
