//! Native side of the WebCrypto global (`crypto`, `crypto.subtle`): the primitives, from the
//! RustCrypto crates. `js/webcrypto.js` gives them the WebCrypto API (algorithm normalisation,
//! CryptoKey objects, usages, promises); the natives take and return bytes, and key material
//! travels as bytes too (raw secrets, SEC1 public points, PKCS#8 and SPKI DER), so no Rust object
//! outlives a call.

mod aes;
mod ec;
mod rsa;

use super::{array_buffer, bytes_of, def};
use crate::host::Host;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rquickjs::{Ctx, Exception, Object, Result, Value};
use sha2::Digest;
use std::rc::Rc;

/// The internal module that holds the JavaScript layer.
pub(crate) const LAYER: &str = "brunt:webcrypto";

/// Adds the `crypto` global (on a script's first use of the name; see `globals::LAZY`).
pub(crate) fn install_global<'js>(
    ctx: &Ctx<'js>,
    globals: &Object<'js>,
    host: &Rc<Host>,
) -> Result<()> {
    let ns = crate::loader::evaluate_internal(ctx, &host.shared, LAYER)?;
    globals.set("crypto", ns.get::<_, Value>("crypto")?)
}

/// Throws an error whose `name` is one of WebCrypto's (`OperationError`, `DataError`, ...); the
/// layer turns it into the error object scripts see.
pub(super) fn fail(ctx: &Ctx<'_>, name: &str, msg: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), msg) {
        Ok(e) => {
            if let Err(err) = e.as_object().set("name", name) {
                return err;
            }
            ctx.throw(e.into_value())
        }
        Err(e) => e,
    }
}

/// Runs `$body` with `$d` bound to the RustCrypto digest type of a WebCrypto hash name.
macro_rules! with_hash {
    ($ctx:expr, $name:expr, $d:ident => $body:expr) => {
        match $name {
            "SHA-1" => {
                type $d = sha1::Sha1;
                $body
            }
            "SHA-256" => {
                type $d = sha2::Sha256;
                $body
            }
            "SHA-384" => {
                type $d = sha2::Sha384;
                $body
            }
            "SHA-512" => {
                type $d = sha2::Sha512;
                $body
            }
            other => {
                return Err($crate::modules::webcrypto::fail(
                    $ctx,
                    "NotSupportedError",
                    &format!("hash algorithm '{other}' is not supported; use SHA-1, SHA-256, SHA-384 or SHA-512"),
                ))
            }
        }
    };
}
pub(super) use with_hash;

pub(super) fn digest(ctx: &Ctx<'_>, hash: &str, data: &[u8]) -> Result<Vec<u8>> {
    with_hash!(ctx, hash, D => Ok(D::digest(data).to_vec()))
}

fn hmac_sign(ctx: &Ctx<'_>, hash: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    with_hash!(ctx, hash, D => {
        let mut m = <Hmac<D> as hmac::digest::KeyInit>::new_from_slice(key)
            .map_err(|e| fail(ctx, "DataError", &e.to_string()))?;
        m.update(data);
        Ok(m.finalize().into_bytes().to_vec())
    })
}

fn hmac_verify(ctx: &Ctx<'_>, hash: &str, key: &[u8], sig: &[u8], data: &[u8]) -> Result<bool> {
    with_hash!(ctx, hash, D => {
        let mut m = <Hmac<D> as hmac::digest::KeyInit>::new_from_slice(key)
            .map_err(|e| fail(ctx, "DataError", &e.to_string()))?;
        m.update(data);
        Ok(m.verify_slice(sig).is_ok())
    })
}

fn pbkdf2(
    ctx: &Ctx<'_>,
    hash: &str,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    bits: usize,
) -> Result<Vec<u8>> {
    let mut out = vec![0u8; bits / 8];
    with_hash!(ctx, hash, D => pbkdf2::pbkdf2_hmac::<D>(password, salt, iterations, &mut out));
    Ok(out)
}

/// A version 4 UUID from 16 random bytes, in RFC 9562's text form.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An ArrayBuffer of `bytes`, as every native here returns.
pub(super) fn ab<'js>(ctx: &Ctx<'js>, bytes: Vec<u8>) -> Result<Value<'js>> {
    array_buffer(ctx, bytes)
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(ctx, native, "randomUUID", random_uuid)?;
    def(ctx, native, "randomBytes", super::crypto::random_bytes)?;
    def(
        ctx,
        native,
        "digest",
        |ctx: Ctx<'js>, hash: String, data: Value<'js>| -> Result<Value<'js>> {
            let d = digest(&ctx, &hash, &bytes_of(&ctx, &data)?)?;
            ab(&ctx, d)
        },
    )?;
    def(
        ctx,
        native,
        "hmacSign",
        |ctx: Ctx<'js>, hash: String, key: Value<'js>, data: Value<'js>| -> Result<Value<'js>> {
            let key = bytes_of(&ctx, &key)?;
            let s = hmac_sign(&ctx, &hash, &key, &bytes_of(&ctx, &data)?)?;
            ab(&ctx, s)
        },
    )?;
    def(
        ctx,
        native,
        "hmacVerify",
        |ctx: Ctx<'js>,
         hash: String,
         key: Value<'js>,
         sig: Value<'js>,
         data: Value<'js>|
         -> Result<bool> {
            let (key, sig) = (bytes_of(&ctx, &key)?, bytes_of(&ctx, &sig)?);
            hmac_verify(&ctx, &hash, &key, &sig, &bytes_of(&ctx, &data)?)
        },
    )?;
    def(
        ctx,
        native,
        "pbkdf2",
        |ctx: Ctx<'js>,
         hash: String,
         password: Value<'js>,
         salt: Value<'js>,
         iterations: u32,
         bits: usize|
         -> Result<Value<'js>> {
            let (p, s) = (bytes_of(&ctx, &password)?, bytes_of(&ctx, &salt)?);
            let out = pbkdf2(&ctx, &hash, &p, &s, iterations, bits)?;
            ab(&ctx, out)
        },
    )?;
    aes::install(ctx, native)?;
    ec::install(ctx, native)?;
    rsa::install(ctx, native)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_uuids_are_version_4() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, random_uuid());
    }
}
