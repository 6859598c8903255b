//! RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP from the RustCrypto `rsa` crate. A private key travels
//! as PKCS#8 DER, a public key as SPKI DER.

use super::{ab, digest, fail, with_hash};
use crate::modules::{bytes_of, def};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use rquickjs::{Array, Ctx, Object, Result, Value};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};

fn data_err(ctx: &Ctx<'_>, what: &str, e: impl std::fmt::Display) -> rquickjs::Error {
    fail(ctx, "DataError", &format!("{what}: {e}"))
}

fn op_err(ctx: &Ctx<'_>, e: impl std::fmt::Display) -> rquickjs::Error {
    fail(ctx, "OperationError", &e.to_string())
}

fn private_key(ctx: &Ctx<'_>, pkcs8: &[u8]) -> Result<RsaPrivateKey> {
    RsaPrivateKey::from_pkcs8_der(pkcs8).map_err(|e| data_err(ctx, "invalid PKCS#8 RSA key", e))
}

fn public_key(ctx: &Ctx<'_>, spki: &[u8]) -> Result<RsaPublicKey> {
    RsaPublicKey::from_public_key_der(spki).map_err(|e| data_err(ctx, "invalid SPKI RSA key", e))
}

/// `[isPrivate, keyBytes, spki, modulusLength, publicExponent]`, as the layer keeps a key.
fn described<'js>(
    ctx: &Ctx<'js>,
    private: Option<&RsaPrivateKey>,
    public: &RsaPublicKey,
) -> Result<Array<'js>> {
    let spki = public
        .to_public_key_der()
        .map_err(|e| op_err(ctx, e))?
        .as_bytes()
        .to_vec();
    let key = match private {
        Some(k) => k
            .to_pkcs8_der()
            .map_err(|e| op_err(ctx, e))?
            .as_bytes()
            .to_vec(),
        None => spki.clone(),
    };
    let a = Array::new(ctx.clone())?;
    a.set(0, private.is_some())?;
    a.set(1, ab(ctx, key)?)?;
    a.set(2, ab(ctx, spki)?)?;
    a.set(3, public.n().bits())?;
    a.set(4, ab(ctx, public.e().to_bytes_be())?)?;
    Ok(a)
}

fn jwk_int(ctx: &Ctx<'_>, jwk: &Object<'_>, field: &str) -> Result<Option<BigUint>> {
    let Some(s) = jwk.get::<_, Option<String>>(field)? else {
        return Ok(None);
    };
    let bytes = B64URL
        .decode(&s)
        .map_err(|e| data_err(ctx, &format!("JWK '{field}' is not base64url"), e))?;
    Ok(Some(BigUint::from_bytes_be(&bytes)))
}

fn import_jwk<'js>(ctx: &Ctx<'js>, jwk: &Object<'js>) -> Result<Array<'js>> {
    let need = |field: &str| -> Result<BigUint> {
        jwk_int(ctx, jwk, field)?
            .ok_or_else(|| fail(ctx, "DataError", &format!("RSA JWK lacks '{field}'")))
    };
    let (n, e) = (need("n")?, need("e")?);
    let Some(d) = jwk_int(ctx, jwk, "d")? else {
        let public = RsaPublicKey::new(n, e).map_err(|e| data_err(ctx, "invalid RSA JWK", e))?;
        return described(ctx, None, &public);
    };
    let primes = vec![need("p")?, need("q")?];
    let mut key = RsaPrivateKey::from_components(n, e, d, primes)
        .map_err(|e| data_err(ctx, "invalid RSA JWK", e))?;
    key.precompute()
        .map_err(|e| data_err(ctx, "invalid RSA JWK", e))?;
    key.validate()
        .map_err(|e| data_err(ctx, "invalid RSA JWK", e))?;
    described(ctx, Some(&key), &key.to_public_key())
}

fn jwk<'js>(ctx: &Ctx<'js>, key: &[u8], private: bool) -> Result<Object<'js>> {
    let out = Object::new(ctx.clone())?;
    let put = |name: &str, v: &BigUint| out.set(name, B64URL.encode(v.to_bytes_be()));
    if !private {
        let k = public_key(ctx, key)?;
        put("n", k.n())?;
        put("e", k.e())?;
        return Ok(out);
    }
    let k = private_key(ctx, key)?;
    put("n", k.n())?;
    put("e", k.e())?;
    put("d", k.d())?;
    if let [p, q] = k.primes() {
        put("p", p)?;
        put("q", q)?;
    }
    if let (Some(dp), Some(dq)) = (k.dp(), k.dq()) {
        put("dp", dp)?;
        put("dq", dq)?;
    }
    if let Some(qi) = k.crt_coefficient() {
        put("qi", &qi)?;
    }
    Ok(out)
}

/// Signs (`sig` None) or verifies `data` with RSASSA-PKCS1-v1_5 or RSA-PSS.
fn sign_or_verify(
    ctx: &Ctx<'_>,
    scheme: &str,
    hash: &str,
    key: &[u8],
    data: &[u8],
    salt: usize,
    sig: Option<&[u8]>,
) -> Result<Option<Vec<u8>>> {
    let hashed = digest(ctx, hash, data)?;
    with_hash!(ctx, hash, D => match (scheme, sig) {
        ("RSASSA-PKCS1-v1_5", None) => private_key(ctx, key)?
            .sign(Pkcs1v15Sign::new::<D>(), &hashed)
            .map(Some)
            .map_err(|e| op_err(ctx, e)),
        ("RSA-PSS", None) => private_key(ctx, key)?
            .sign_with_rng(&mut rand_core::OsRng, Pss::new_with_salt::<D>(salt), &hashed)
            .map(Some)
            .map_err(|e| op_err(ctx, e)),
        ("RSASSA-PKCS1-v1_5", Some(sig)) => {
            let ok = public_key(ctx, key)?.verify(Pkcs1v15Sign::new::<D>(), &hashed, sig).is_ok();
            Ok(ok.then(Vec::new))
        }
        (_, Some(sig)) => {
            let ok = public_key(ctx, key)?.verify(Pss::new_with_salt::<D>(salt), &hashed, sig).is_ok();
            Ok(ok.then(Vec::new))
        }
        (other, None) => Err(fail(ctx, "NotSupportedError", &format!("'{other}' is not an RSA signature scheme"))),
    })
}

fn oaep(
    ctx: &Ctx<'_>,
    encrypt: bool,
    hash: &str,
    key: &[u8],
    data: &[u8],
    label: &[u8],
) -> Result<Vec<u8>> {
    let label = String::from_utf8(label.to_vec()).map_err(|_| {
        fail(
            ctx,
            "NotSupportedError",
            "an RSA-OAEP label must be UTF-8 text in brunt",
        )
    })?;
    with_hash!(ctx, hash, D => {
        let padding = if label.is_empty() { Oaep::new::<D>() } else { Oaep::new_with_label::<D, _>(label) };
        if encrypt {
            public_key(ctx, key)?
                .encrypt(&mut rand_core::OsRng, padding, data)
                .map_err(|e| op_err(ctx, format!("RSA-OAEP encryption failed: {e}")))
        } else {
            private_key(ctx, key)?
                .decrypt(padding, data)
                .map_err(|e| op_err(ctx, format!("RSA-OAEP decryption failed: {e}")))
        }
    })
}

pub(super) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "rsaGenerate",
        |ctx: Ctx<'js>, bits: usize, exponent: Value<'js>| -> Result<Array<'js>> {
            let e = BigUint::from_bytes_be(&bytes_of(&ctx, &exponent)?);
            let key = RsaPrivateKey::new_with_exp(&mut rand_core::OsRng, bits, &e)
                .map_err(|e| op_err(&ctx, format!("cannot generate an RSA key: {e}")))?;
            described(&ctx, Some(&key), &key.to_public_key())
        },
    )?;
    def(
        ctx,
        native,
        "rsaImport",
        |ctx: Ctx<'js>, format: String, data: Value<'js>| -> Result<Array<'js>> {
            let data = bytes_of(&ctx, &data)?;
            match format.as_str() {
                "spki" => described(&ctx, None, &public_key(&ctx, &data)?),
                "pkcs8" => {
                    let k = private_key(&ctx, &data)?;
                    described(&ctx, Some(&k), &k.to_public_key())
                }
                other => Err(fail(
                    &ctx,
                    "NotSupportedError",
                    &format!(
                        "format '{other}' is not supported for RSA keys; use spki, pkcs8 or jwk"
                    ),
                )),
            }
        },
    )?;
    def(
        ctx,
        native,
        "rsaImportJwk",
        |ctx: Ctx<'js>, jwk: Object<'js>| -> Result<Array<'js>> { import_jwk(&ctx, &jwk) },
    )?;
    def(
        ctx,
        native,
        "rsaJwk",
        |ctx: Ctx<'js>, key: Value<'js>, private: bool| -> Result<Object<'js>> {
            jwk(&ctx, &bytes_of(&ctx, &key)?, private)
        },
    )?;
    def(
        ctx,
        native,
        "rsaSign",
        |ctx: Ctx<'js>,
         scheme: String,
         hash: String,
         key: Value<'js>,
         data: Value<'js>,
         salt: usize|
         -> Result<Value<'js>> {
            let (key, data) = (bytes_of(&ctx, &key)?, bytes_of(&ctx, &data)?);
            let sig = sign_or_verify(&ctx, &scheme, &hash, &key, &data, salt, None)?;
            ab(&ctx, sig.unwrap_or_default())
        },
    )?;
    def(
        ctx,
        native,
        "rsaVerify",
        |ctx: Ctx<'js>,
         scheme: String,
         hash: String,
         key: Value<'js>,
         sig: Value<'js>,
         data: Value<'js>,
         salt: usize|
         -> Result<bool> {
            let (key, sig) = (bytes_of(&ctx, &key)?, bytes_of(&ctx, &sig)?);
            let data = bytes_of(&ctx, &data)?;
            Ok(sign_or_verify(&ctx, &scheme, &hash, &key, &data, salt, Some(&sig))?.is_some())
        },
    )?;
    def(
        ctx,
        native,
        "rsaOaep",
        |ctx: Ctx<'js>,
         encrypt: bool,
         hash: String,
         key: Value<'js>,
         data: Value<'js>,
         label: Value<'js>|
         -> Result<Value<'js>> {
            let (key, data) = (bytes_of(&ctx, &key)?, bytes_of(&ctx, &data)?);
            let out = oaep(&ctx, encrypt, &hash, &key, &data, &bytes_of(&ctx, &label)?)?;
            ab(&ctx, out)
        },
    )
}
