//! Native side of `k6/crypto`: digests and HMACs from the RustCrypto crates, random bytes.

use super::{array_buffer, bytes_of, def, throw};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result, Value};
use sha2::Digest;

fn digest(alg: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        "md4" => md4::Md4::digest(data).to_vec(),
        "md5" => md5::Md5::digest(data).to_vec(),
        "ripemd160" => ripemd::Ripemd160::digest(data).to_vec(),
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        "sha512_224" => sha2::Sha512_224::digest(data).to_vec(),
        "sha512_256" => sha2::Sha512_256::digest(data).to_vec(),
        _ => return None,
    })
}

fn hmac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hmac(alg: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        "md4" => hmac_of::<Hmac<md4::Md4>>(key, data),
        "md5" => hmac_of::<Hmac<md5::Md5>>(key, data),
        "ripemd160" => hmac_of::<Hmac<ripemd::Ripemd160>>(key, data),
        "sha1" => hmac_of::<Hmac<sha1::Sha1>>(key, data),
        "sha256" => hmac_of::<Hmac<sha2::Sha256>>(key, data),
        "sha384" => hmac_of::<Hmac<sha2::Sha384>>(key, data),
        "sha512" => hmac_of::<Hmac<sha2::Sha512>>(key, data),
        "sha512_224" => hmac_of::<Hmac<sha2::Sha512_224>>(key, data),
        "sha512_256" => hmac_of::<Hmac<sha2::Sha512_256>>(key, data),
        _ => return None,
    })
}

/// k6's output encodings: `hex`, `base64`, `base64url`, `base64rawurl`, `binary` (an ArrayBuffer).
fn encode<'js>(ctx: &Ctx<'js>, bytes: Vec<u8>, enc: Option<&str>) -> Result<Value<'js>> {
    use base64::engine::general_purpose as b64;
    let text = match enc.unwrap_or("binary") {
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => b64::STANDARD.encode(&bytes),
        "base64url" => b64::URL_SAFE.encode(&bytes),
        "base64rawurl" => b64::URL_SAFE_NO_PAD.encode(&bytes),
        "binary" => return array_buffer(ctx, bytes),
        other => {
            return Err(throw(
                ctx,
                &format!("unknown output encoding '{other}'; use hex, base64, base64url, base64rawurl or binary"),
            ))
        }
    };
    Ok(rquickjs::String::from_str(ctx.clone(), &text)?.into_value())
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "hash",
        |ctx: Ctx<'js>,
         alg: String,
         data: Value<'js>,
         enc: Opt<Option<String>>|
         -> Result<Value<'js>> {
            let bytes = bytes_of(&ctx, &data)?;
            let d = digest(&alg, &bytes)
                .ok_or_else(|| throw(&ctx, &format!("unknown hash algorithm '{alg}'")))?;
            encode(&ctx, d, enc.0.flatten().as_deref())
        },
    )?;
    def(
        ctx,
        native,
        "hmac",
        |ctx: Ctx<'js>,
         alg: String,
         key: Value<'js>,
         data: Value<'js>,
         enc: Opt<Option<String>>|
         -> Result<Value<'js>> {
            let key = bytes_of(&ctx, &key)?;
            let data = bytes_of(&ctx, &data)?;
            let d = hmac(&alg, &key, &data)
                .ok_or_else(|| throw(&ctx, &format!("unknown HMAC algorithm '{alg}'")))?;
            encode(&ctx, d, enc.0.flatten().as_deref())
        },
    )?;
    def(
        ctx,
        native,
        "hexEncode",
        |ctx: Ctx<'js>, data: Value<'js>| -> Result<Value<'js>> {
            encode(&ctx, bytes_of(&ctx, &data)?, Some("hex"))
        },
    )?;
    def(ctx, native, "randomBytes", random_bytes)?;
    Ok(())
}

/// An ArrayBuffer of `n` random bytes: `k6/crypto`'s `randomBytes`, and WebCrypto's source of
/// keys and `getRandomValues`.
pub(crate) fn random_bytes<'js>(ctx: Ctx<'js>, n: usize) -> Result<Value<'js>> {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    array_buffer(&ctx, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_vectors() {
        let hex = |b: Vec<u8>| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(digest("md5", b"abc").unwrap()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(digest("sha256", b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(hmac(
                "sha256",
                b"key",
                b"The quick brown fox jumps over the lazy dog"
            )
            .unwrap()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert_eq!(
            hex(digest("md4", b"abc").unwrap()),
            "a448017aaf21d8525fc10ae87aa6729d"
        );
        assert_eq!(
            hex(digest("ripemd160", b"abc").unwrap()),
            "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
        );
        assert!(digest("nope", b"").is_none());
    }
}
