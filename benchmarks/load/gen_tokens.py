#!/usr/bin/env python3
"""Writes N distinct signed JWTs, one per line, for the load benchmark (python3 stdlib only).

  gen_tokens.py --alg HS256 --secret S   --iss I --aud A --count N --ttl 3600 --out FILE
  gen_tokens.py --alg RS256 --key K.pem  --iss I --aud A --count N --ttl 3600 --out FILE

RS256 signs through the system libcrypto with ctypes (EVP_DigestSign: ~1 ms per token instead
of one `openssl dgst -sign` process per token); when libcrypto cannot be loaded it falls back
to RSASSA-PKCS1-v1_5 / SHA-256 computed with pow() on the private key's CRT values (slower,
same signatures). Every token differs by its `sub`
(user-<i>) and `jti`, so a gateway cannot serve any of them from a cache of earlier ones.
"""
import argparse
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import subprocess
import sys
import time


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_ints(der: bytes):
    """The INTEGERs of a DER SEQUENCE (enough for a PKCS#1 RSAPrivateKey)."""
    def length(buf, i):
        n = buf[i]
        i += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(buf[i:i + k], "big")
            i += k
        return n, i

    assert der[0] == 0x30, "not a DER SEQUENCE"
    _, i = length(der, 1)
    out = []
    while i < len(der):
        tag = der[i]
        n, j = length(der, i + 1)
        if tag == 0x02:
            out.append(int.from_bytes(der[j:j + n], "big"))
        i = j + n
    return out


# DER prefix of DigestInfo{ sha256, OCTET STRING(32) } (RFC 8017 section 9.2, note 1)
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_signer(key_pem: str):
    der = subprocess.run(["openssl", "rsa", "-in", key_pem, "-outform", "DER", "-traditional"],
                         check=True, capture_output=True).stdout
    _ver, n, _e, _d, p, q, dp, dq, qinv = der_ints(der)[:9]
    k = (n.bit_length() + 7) // 8

    def sign(data: bytes) -> bytes:
        t = SHA256_PREFIX + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        m = int.from_bytes(em, "big")
        s1 = pow(m, dp, p)
        s2 = pow(m, dq, q)
        h = (qinv * (s1 - s2)) % p
        return (s2 + h * q).to_bytes(k, "big")

    return sign


def rs256_signer_libcrypto(key_pem: str):
    name = ctypes.util.find_library("crypto")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    lib.BIO_new_mem_buf.restype, lib.BIO_new_mem_buf.argtypes = vp, [cp, ctypes.c_int]
    lib.PEM_read_bio_PrivateKey.restype, lib.PEM_read_bio_PrivateKey.argtypes = vp, [vp, vp, vp, vp]
    lib.EVP_MD_CTX_new.restype = vp
    lib.EVP_MD_CTX_reset.argtypes = [vp]
    lib.EVP_sha256.restype = vp
    lib.EVP_DigestSignInit.argtypes = [vp, vp, vp, vp, vp]
    lib.EVP_DigestSign.argtypes = [vp, cp, ctypes.POINTER(sz), cp, sz]
    pem = open(key_pem, "rb").read()
    bio = lib.BIO_new_mem_buf(pem, len(pem))
    pkey = lib.PEM_read_bio_PrivateKey(bio, None, None, None)
    if not pkey:
        return None
    ctx = lib.EVP_MD_CTX_new()
    md = lib.EVP_sha256()

    def sign(data: bytes) -> bytes:
        lib.EVP_MD_CTX_reset(ctx)
        if lib.EVP_DigestSignInit(ctx, None, md, None, pkey) != 1:
            raise RuntimeError("EVP_DigestSignInit failed")
        buf = ctypes.create_string_buffer(1024)
        n = sz(len(buf))
        if lib.EVP_DigestSign(ctx, buf, ctypes.byref(n), data, len(data)) != 1:
            raise RuntimeError("EVP_DigestSign failed")
        return buf.raw[:n.value]

    return sign


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alg", required=True, choices=["HS256", "RS256"])
    ap.add_argument("--secret")
    ap.add_argument("--key")
    ap.add_argument("--iss", required=True)
    ap.add_argument("--aud", required=True)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--ttl", type=int, default=3600)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    if a.alg == "HS256":
        if not a.secret:
            sys.exit("--secret is required for HS256")
        secret = a.secret.encode()
        sign = lambda data: hmac.new(secret, data, hashlib.sha256).digest()
    else:
        if not a.key:
            sys.exit("--key is required for RS256")
        sign = rs256_signer_libcrypto(a.key) or rs256_signer(a.key)

    header = b64url(json.dumps({"alg": a.alg, "typ": "JWT"}, separators=(",", ":")).encode())
    now = int(time.time())
    with open(a.out, "w") as f:
        for i in range(a.count):
            payload = {"iss": a.iss, "aud": a.aud, "sub": f"user-{i}", "iat": now, "exp": now + a.ttl,
                       "jti": f"bench-{now}-{i}"}
            signing_input = header + "." + b64url(json.dumps(payload, separators=(",", ":")).encode())
            f.write(signing_input + "." + b64url(sign(signing_input.encode())) + "\n")


if __name__ == "__main__":
    main()
