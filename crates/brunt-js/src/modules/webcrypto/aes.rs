//! AES-CBC (PKCS#7 padding), AES-CTR (a 128-bit big-endian counter, as k6's Go implementation
//! counts) and AES-GCM (128-bit tags; 12- or 16-byte IVs) from the RustCrypto `aes` crates.

use super::{ab, fail};
use crate::modules::{bytes_of, def};
use aes::cipher::{block_padding::Pkcs7, typenum::U16};
use aes::cipher::{
    BlockCipher, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, BlockSizeUser, KeyInit, KeyIvInit,
    StreamCipher,
};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::AesGcm;
use rquickjs::{Ctx, Object, Result, Value};

/// What one call does: the mode, the direction and its parameters.
struct Op<'a> {
    mode: &'a str,
    encrypt: bool,
    iv: &'a [u8],
    aad: &'a [u8],
}

fn cbc<C>(ctx: &Ctx<'_>, key: &[u8], op: &Op, data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipher + BlockEncryptMut + BlockDecryptMut + KeyInit + BlockSizeUser<BlockSize = U16>,
{
    let bad_iv = |_| fail(ctx, "OperationError", "AES-CBC needs a 16-byte iv");
    if op.encrypt {
        let enc = cbc::Encryptor::<C>::new_from_slices(key, op.iv).map_err(bad_iv)?;
        Ok(enc.encrypt_padded_vec_mut::<Pkcs7>(data))
    } else {
        let dec = cbc::Decryptor::<C>::new_from_slices(key, op.iv).map_err(bad_iv)?;
        dec.decrypt_padded_vec_mut::<Pkcs7>(data).map_err(|_| {
            fail(
                ctx,
                "OperationError",
                "AES-CBC decryption failed: bad padding",
            )
        })
    }
}

fn ctr<C>(ctx: &Ctx<'_>, key: &[u8], op: &Op, data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipher + BlockEncrypt + KeyInit + BlockSizeUser<BlockSize = U16>,
{
    let mut c = ctr::Ctr128BE::<C>::new_from_slices(key, op.iv)
        .map_err(|_| fail(ctx, "OperationError", "AES-CTR needs a 16-byte counter"))?;
    let mut out = data.to_vec();
    c.apply_keystream(&mut out);
    Ok(out)
}

fn gcm<C>(ctx: &Ctx<'_>, key: &[u8], op: &Op, data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipher + BlockEncrypt + KeyInit + BlockSizeUser<BlockSize = U16>,
{
    let payload = Payload {
        msg: data,
        aad: op.aad,
    };
    let r = match op.iv.len() {
        12 => run_gcm(&AesGcm::<C, U12>::new_from_slice(key), op, payload),
        16 => run_gcm(&AesGcm::<C, U16>::new_from_slice(key), op, payload),
        n => {
            return Err(fail(
                ctx,
                "NotSupportedError",
                &format!("AES-GCM iv of {n} bytes is not supported; use 12 (recommended) or 16"),
            ))
        }
    };
    r.ok_or_else(|| {
        let what = if op.encrypt { "encryption" } else { "decryption" };
        fail(
            ctx,
            "OperationError",
            &format!("AES-GCM {what} failed: the data or its authentication tag is not valid for this key and iv"),
        )
    })
}

fn run_gcm<A: Aead>(
    cipher: &std::result::Result<A, aes::cipher::InvalidLength>,
    op: &Op,
    payload: Payload,
) -> Option<Vec<u8>> {
    let cipher = cipher.as_ref().ok()?;
    let nonce = aes_gcm::aead::Nonce::<A>::from_slice(op.iv);
    if op.encrypt {
        cipher.encrypt(nonce, payload).ok()
    } else {
        cipher.decrypt(nonce, payload).ok()
    }
}

fn with_cipher<C>(ctx: &Ctx<'_>, key: &[u8], op: &Op, data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipher
        + BlockEncrypt
        + BlockEncryptMut
        + BlockDecryptMut
        + KeyInit
        + BlockSizeUser<BlockSize = U16>,
{
    match op.mode {
        "AES-CBC" => cbc::<C>(ctx, key, op, data),
        "AES-CTR" => ctr::<C>(ctx, key, op, data),
        "AES-GCM" => gcm::<C>(ctx, key, op, data),
        other => Err(fail(
            ctx,
            "NotSupportedError",
            &format!("'{other}' is not an AES mode brunt supports"),
        )),
    }
}

fn run(ctx: &Ctx<'_>, key: &[u8], op: &Op, data: &[u8]) -> Result<Vec<u8>> {
    match key.len() {
        16 => with_cipher::<aes::Aes128>(ctx, key, op, data),
        24 => with_cipher::<aes::Aes192>(ctx, key, op, data),
        32 => with_cipher::<aes::Aes256>(ctx, key, op, data),
        n => Err(fail(
            ctx,
            "DataError",
            &format!("an AES key is 16, 24 or 32 bytes long, not {n}"),
        )),
    }
}

pub(super) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "aes",
        |ctx: Ctx<'js>,
         mode: String,
         encrypt: bool,
         key: Value<'js>,
         iv: Value<'js>,
         aad: Value<'js>,
         data: Value<'js>|
         -> Result<Value<'js>> {
            let (key, iv, aad) = (
                bytes_of(&ctx, &key)?,
                bytes_of(&ctx, &iv)?,
                bytes_of(&ctx, &aad)?,
            );
            let op = Op {
                mode: &mode,
                encrypt,
                iv: &iv,
                aad: &aad,
            };
            let out = run(&ctx, &key, &op, &bytes_of(&ctx, &data)?)?;
            ab(&ctx, out)
        },
    )
}
