//! ECDSA and ECDH on P-256, P-384 and P-521 (the curves k6 has), from the RustCrypto curve
//! crates. A private key travels as PKCS#8 DER, a public key as an uncompressed SEC1 point.

use super::{ab, digest, fail};
use crate::modules::{bytes_of, def};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use rquickjs::{Array, Ctx, Object, Result, Value};

/// An error to throw: WebCrypto's name for it and the message.
type Failure = (&'static str, String);

/// The same operations for each curve crate (their key types are distinct concrete types).
macro_rules! curve {
    ($m:ident, $c:ident) => {
        mod $m {
            use super::Failure;
            use base64::Engine;
            use elliptic_curve::pkcs8::{DecodePrivateKey, EncodePrivateKey};
            use elliptic_curve::pkcs8::{DecodePublicKey, EncodePublicKey};
            use elliptic_curve::sec1::ToEncodedPoint;
            use $c::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
            use $c::{PublicKey, SecretKey};

            fn data_err(what: &str, e: impl std::fmt::Display) -> Failure {
                ("DataError", format!("{what}: {e}"))
            }

            fn secret(pkcs8: &[u8]) -> Result<SecretKey, Failure> {
                SecretKey::from_pkcs8_der(pkcs8).map_err(|e| data_err("invalid PKCS#8 key", e))
            }

            fn raw(pk: &PublicKey) -> Vec<u8> {
                pk.to_encoded_point(false).as_bytes().to_vec()
            }

            fn pkcs8(sk: &SecretKey) -> Result<Vec<u8>, Failure> {
                let doc = sk
                    .to_pkcs8_der()
                    .map_err(|e| ("OperationError", e.to_string()))?;
                Ok(doc.as_bytes().to_vec())
            }

            pub(super) fn generate() -> Result<(Vec<u8>, Vec<u8>), Failure> {
                let sk = SecretKey::random(&mut rand_core::OsRng);
                Ok((pkcs8(&sk)?, raw(&sk.public_key())))
            }

            /// (is private, the key's bytes, its public point) of imported key data.
            pub(super) fn import(
                format: &str,
                data: &[u8],
            ) -> Result<(bool, Vec<u8>, Vec<u8>), Failure> {
                match format {
                    "raw" => {
                        let pk = PublicKey::from_sec1_bytes(data)
                            .map_err(|e| data_err("invalid public key point", e))?;
                        Ok((false, raw(&pk), raw(&pk)))
                    }
                    "spki" => {
                        let pk = PublicKey::from_public_key_der(data)
                            .map_err(|e| data_err("invalid SPKI key for this curve", e))?;
                        Ok((false, raw(&pk), raw(&pk)))
                    }
                    "pkcs8" => {
                        let sk = secret(data)?;
                        Ok((true, pkcs8(&sk)?, raw(&sk.public_key())))
                    }
                    other => Err((
                        "NotSupportedError",
                        format!("format '{other}' is not supported for EC keys"),
                    )),
                }
            }

            pub(super) fn import_jwk(
                x: &[u8],
                y: &[u8],
                d: Option<&[u8]>,
            ) -> Result<(bool, Vec<u8>, Vec<u8>), Failure> {
                let point = [&[4u8][..], x, y].concat();
                let pk = PublicKey::from_sec1_bytes(&point)
                    .map_err(|e| data_err("invalid JWK x/y for this curve", e))?;
                let Some(d) = d else {
                    return Ok((false, raw(&pk), raw(&pk)));
                };
                let sk = SecretKey::from_slice(d).map_err(|e| data_err("invalid JWK d", e))?;
                if sk.public_key() != pk {
                    return Err(("DataError", "JWK d does not match its x and y".into()));
                }
                Ok((true, pkcs8(&sk)?, raw(&pk)))
            }

            pub(super) fn export(
                format: &str,
                key: &[u8],
                private: bool,
            ) -> Result<Vec<u8>, Failure> {
                match (format, private) {
                    ("raw", false) => Ok(key.to_vec()),
                    ("spki", false) => {
                        let pk = PublicKey::from_sec1_bytes(key)
                            .map_err(|e| ("OperationError", e.to_string()))?;
                        let doc = pk
                            .to_public_key_der()
                            .map_err(|e| ("OperationError", e.to_string()))?;
                        Ok(doc.as_bytes().to_vec())
                    }
                    ("pkcs8", true) => Ok(key.to_vec()),
                    _ => Err((
                        "InvalidAccessError",
                        format!(
                            "a {} EC key cannot be exported as '{format}'",
                            if private { "private" } else { "public" }
                        ),
                    )),
                }
            }

            /// The JWK's x, y and (for a private key) d, base64url without padding.
            pub(super) fn jwk(key: &[u8], private: bool) -> Result<Vec<String>, Failure> {
                let (pk, d) = if private {
                    let sk = secret(key)?;
                    (sk.public_key(), Some(sk.to_bytes().to_vec()))
                } else {
                    let pk = PublicKey::from_sec1_bytes(key)
                        .map_err(|e| ("OperationError", e.to_string()))?;
                    (pk, None)
                };
                let point = raw(&pk);
                let n = (point.len() - 1) / 2;
                let mut out = vec![
                    super::B64URL.encode(&point[1..1 + n]),
                    super::B64URL.encode(&point[1 + n..]),
                ];
                out.extend(d.map(|d| super::B64URL.encode(d)));
                Ok(out)
            }

            pub(super) fn sign(pkcs8: &[u8], prehash: &[u8]) -> Result<Vec<u8>, Failure> {
                let sk = secret(pkcs8)?;
                let signer = $c::ecdsa::SigningKey::from_slice(&sk.to_bytes())
                    .map_err(|e| ("OperationError", e.to_string()))?;
                let sig: $c::ecdsa::Signature = signer
                    .sign_prehash(prehash)
                    .map_err(|e| ("OperationError", format!("ECDSA signing failed: {e}")))?;
                Ok(sig.to_bytes().to_vec())
            }

            pub(super) fn verify(public: &[u8], sig: &[u8], prehash: &[u8]) -> Result<bool, Failure> {
                let (Ok(vk), Ok(sig)) = (
                    $c::ecdsa::VerifyingKey::from_sec1_bytes(public),
                    $c::ecdsa::Signature::from_slice(sig),
                ) else {
                    return Ok(false);
                };
                Ok(vk.verify_prehash(prehash, &sig).is_ok())
            }

            pub(super) fn ecdh(pkcs8: &[u8], public: &[u8]) -> Result<Vec<u8>, Failure> {
                let sk = secret(pkcs8)?;
                let pk = PublicKey::from_sec1_bytes(public)
                    .map_err(|e| ("InvalidAccessError", e.to_string()))?;
                let shared =
                    elliptic_curve::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                Ok(shared.raw_secret_bytes().to_vec())
            }
        }
    };
}

curve!(p256_ops, p256);
curve!(p384_ops, p384);
curve!(p521_ops, p521);

/// Runs `$f` of the module for a WebCrypto curve name.
macro_rules! on_curve {
    ($curve:expr, $f:ident($($a:expr),*)) => {
        match $curve {
            "P-256" => p256_ops::$f($($a),*),
            "P-384" => p384_ops::$f($($a),*),
            "P-521" => p521_ops::$f($($a),*),
            other => Err(("NotSupportedError", format!("named curve '{other}' is not supported; use P-256, P-384 or P-521"))),
        }
    };
}

fn throw_on<T>(ctx: &Ctx<'_>, r: std::result::Result<T, Failure>) -> Result<T> {
    r.map_err(|(name, msg)| fail(ctx, name, &msg))
}

/// `[isPrivate, keyBytes, publicPoint]`, as the layer keeps an imported key.
fn imported<'js>(
    ctx: &Ctx<'js>,
    (private, key, public): (bool, Vec<u8>, Vec<u8>),
) -> Result<Array<'js>> {
    let a = Array::new(ctx.clone())?;
    a.set(0, private)?;
    a.set(1, ab(ctx, key)?)?;
    a.set(2, ab(ctx, public)?)?;
    Ok(a)
}

fn b64url(ctx: &Ctx<'_>, field: &str, s: &str) -> Result<Vec<u8>> {
    B64URL.decode(s).map_err(|e| {
        fail(
            ctx,
            "DataError",
            &format!("JWK '{field}' is not base64url: {e}"),
        )
    })
}

pub(super) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "ecGenerate",
        |ctx: Ctx<'js>, curve: String| -> Result<Array<'js>> {
            let (sk, pk) = throw_on(&ctx, on_curve!(curve.as_str(), generate()))?;
            imported(&ctx, (true, sk, pk))
        },
    )?;
    def(
        ctx,
        native,
        "ecImport",
        |ctx: Ctx<'js>, curve: String, format: String, data: Value<'js>| -> Result<Array<'js>> {
            let data = bytes_of(&ctx, &data)?;
            let r = throw_on(&ctx, on_curve!(curve.as_str(), import(&format, &data)))?;
            imported(&ctx, r)
        },
    )?;
    def(
        ctx,
        native,
        "ecImportJwk",
        |ctx: Ctx<'js>,
         curve: String,
         x: String,
         y: String,
         d: Option<String>|
         -> Result<Array<'js>> {
            let (x, y) = (b64url(&ctx, "x", &x)?, b64url(&ctx, "y", &y)?);
            let d = d.map(|d| b64url(&ctx, "d", &d)).transpose()?;
            let r = throw_on(
                &ctx,
                on_curve!(curve.as_str(), import_jwk(&x, &y, d.as_deref())),
            )?;
            imported(&ctx, r)
        },
    )?;
    def(
        ctx,
        native,
        "ecExport",
        |ctx: Ctx<'js>,
         curve: String,
         format: String,
         key: Value<'js>,
         private: bool|
         -> Result<Value<'js>> {
            let key = bytes_of(&ctx, &key)?;
            let out = throw_on(
                &ctx,
                on_curve!(curve.as_str(), export(&format, &key, private)),
            )?;
            ab(&ctx, out)
        },
    )?;
    def(
        ctx,
        native,
        "ecJwk",
        |ctx: Ctx<'js>, curve: String, key: Value<'js>, private: bool| -> Result<Vec<String>> {
            let key = bytes_of(&ctx, &key)?;
            throw_on(&ctx, on_curve!(curve.as_str(), jwk(&key, private)))
        },
    )?;
    def(
        ctx,
        native,
        "ecdsaSign",
        |ctx: Ctx<'js>,
         curve: String,
         hash: String,
         key: Value<'js>,
         data: Value<'js>|
         -> Result<Value<'js>> {
            let key = bytes_of(&ctx, &key)?;
            let prehash = digest(&ctx, &hash, &bytes_of(&ctx, &data)?)?;
            let sig = throw_on(&ctx, on_curve!(curve.as_str(), sign(&key, &prehash)))?;
            ab(&ctx, sig)
        },
    )?;
    def(
        ctx,
        native,
        "ecdsaVerify",
        |ctx: Ctx<'js>,
         curve: String,
         hash: String,
         key: Value<'js>,
         sig: Value<'js>,
         data: Value<'js>|
         -> Result<bool> {
            let (key, sig) = (bytes_of(&ctx, &key)?, bytes_of(&ctx, &sig)?);
            let prehash = digest(&ctx, &hash, &bytes_of(&ctx, &data)?)?;
            throw_on(
                &ctx,
                on_curve!(curve.as_str(), verify(&key, &sig, &prehash)),
            )
        },
    )?;
    def(
        ctx,
        native,
        "ecdh",
        |ctx: Ctx<'js>, curve: String, key: Value<'js>, public: Value<'js>| -> Result<Value<'js>> {
            let (key, public) = (bytes_of(&ctx, &key)?, bytes_of(&ctx, &public)?);
            let secret = throw_on(&ctx, on_curve!(curve.as_str(), ecdh(&key, &public)))?;
            ab(&ctx, secret)
        },
    )
}
