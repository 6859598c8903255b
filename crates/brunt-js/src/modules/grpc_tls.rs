//! k6/net/grpc's `connect` `tls` param (`{ cert, key, password, cacerts }`, PEM strings) made into
//! brunt-http's [`TlsExtras`], read as k6 reads them: CA certificates trusted beside the built-in
//! roots; a client certificate when both `cert` and `key` are given; with a `password`, the key
//! is decrypted first, in the legacy OpenSSL encryption that Go's `x509.DecryptPEMBlock` reads
//! for k6 (RFC 1421's `Proc-Type: 4,ENCRYPTED` and `DEK-Info` headers, the cipher's key from
//! `EVP_BytesToKey` with MD5). The errors are k6's words.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockCipher, BlockDecryptMut, BlockSizeUser, KeyInit, KeyIvInit};
use base64::Engine;
use brunt_http::TlsExtras;
use md5::{Digest, Md5};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The param's values, as the JavaScript layer checked them ("" for one not given).
pub(crate) struct TlsParam {
    pub cert: String,
    pub key: String,
    pub password: String,
    pub cacerts: Vec<String>,
}

/// The extras for the connection, or k6's error.
pub(crate) fn extras(p: &TlsParam) -> Result<TlsExtras, String> {
    let mut out = TlsExtras::default();
    let key = if p.password.is_empty() {
        p.key.clone().into_bytes()
    } else {
        decrypt_pem(&p.key, &p.password)?
    };
    for (i, ca) in p.cacerts.iter().enumerate() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca.as_bytes())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|c: &Vec<_>| !c.is_empty())
            .ok_or_else(|| format!("failed to append ca certificate [{i}] from PEM"))?;
        out.ca_certs.extend(certs);
    }
    if !p.cert.is_empty() && !key.is_empty() {
        let fail =
            |e: &dyn std::fmt::Display| format!("failed to append certificate from PEM: {e}");
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(p.cert.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| fail(&e))?;
        if chain.is_empty() {
            return Err(fail(
                &"tls: failed to find any PEM data in certificate input",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| fail(&e))?;
        out.client_cert = Some((chain, key));
    }
    Ok(out)
}

/// The key of an encrypted PEM block, decrypted, as a PEM block of the same label.
fn decrypt_pem(pem: &str, password: &str) -> Result<Vec<u8>, String> {
    let (label, headers, der) = parse_pem(pem).ok_or("failed to decode PEM key")?;
    if label == "ENCRYPTED PRIVATE KEY" {
        return Err("encrypted pkcs8 formatted key is not supported".into());
    }
    let dek = headers
        .iter()
        .find(|(k, _)| *k == "DEK-Info")
        .map(|(_, v)| *v)
        .ok_or("x509: no DEK-Info header in block")?;
    let (cipher, iv) = dek
        .split_once(',')
        .ok_or("x509: malformed DEK-Info header")?;
    let key_len = match cipher.trim() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        "DES-CBC" | "DES-EDE3-CBC" => {
            return Err(format!(
                "brunt decrypts AES-128/192/256-CBC keys, not {cipher}: encrypt the key again \
                 with `openssl rsa -aes256 -traditional` (or `openssl ec -aes256`)"
            ))
        }
        _ => return Err("x509: unknown encryption mode".into()),
    };
    let iv = hex_bytes(iv.trim())
        .filter(|iv| iv.len() == 16)
        .ok_or("x509: incorrect IV size")?;
    let key = bytes_to_key(password.as_bytes(), &iv[..8], key_len);
    let mut data = der;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err("x509: encrypted PEM data is not a multiple of the block size".into());
    }
    match key_len {
        16 => cbc_decrypt::<aes::Aes128>(&key, &iv, &mut data),
        24 => cbc_decrypt::<aes::Aes192>(&key, &iv, &mut data),
        _ => cbc_decrypt::<aes::Aes256>(&key, &iv, &mut data),
    }
    // PKCS#7 padding, which a wrong password leaves as noise.
    let pad = usize::from(*data.last().unwrap_or(&0));
    if pad == 0
        || pad > 16
        || !data[data.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad)
    {
        return Err("x509: decryption password incorrect".into());
    }
    data.truncate(data.len() - pad);
    let body = base64::engine::general_purpose::STANDARD.encode(&data);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    Ok(out.into_bytes())
}

/// A PEM block: its label, its headers and its bytes.
type PemBlock<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>);

/// The first PEM block of `pem`.
fn parse_pem(pem: &str) -> Option<PemBlock<'_>> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let label_len = pem[start..].find("-----")?;
    let label = &pem[start..start + label_len];
    let body_start = start + label_len + "-----".len();
    let body_len = pem[body_start..].find(&format!("-----END {label}-----"))?;
    let mut headers = Vec::new();
    let mut b64 = String::new();
    for line in pem[body_start..body_start + body_len]
        .lines()
        .map(str::trim)
    {
        match line.split_once(':') {
            Some((k, v)) => headers.push((k.trim(), v.trim())),
            None => b64.push_str(line),
        }
    }
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((label, headers, der))
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one round: MD5(previous ‖ password ‖ salt), chained
/// until there are `len` bytes.
fn bytes_to_key(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while key.len() < len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(password);
        h.update(salt);
        prev = h.finalize().to_vec();
        key.extend_from_slice(&prev);
    }
    key.truncate(len);
    key
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &mut [u8])
where
    C: BlockCipher
        + BlockDecryptMut
        + KeyInit
        + BlockSizeUser<BlockSize = aes::cipher::typenum::U16>,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).expect("key and iv sizes checked");
    // A multiple of the block size (checked): no padding error is possible.
    let _ = dec.decrypt_padded_mut::<NoPadding>(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -pass pass:secret -S 0102030405060708`
        let key = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        let hex: String = key.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            hex,
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB"
        );
    }

    #[test]
    fn k6s_errors_for_keys_it_cannot_read() {
        let p = |key: &str, password: &str| TlsParam {
            cert: String::new(),
            key: key.into(),
            password: password.into(),
            cacerts: vec![],
        };
        let err = |param| extras(&param).err().unwrap_or_default();
        assert_eq!(err(p("nonsense", "pw")), "failed to decode PEM key");
        let pkcs8 =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            err(p(pkcs8, "pw")),
            "encrypted pkcs8 formatted key is not supported"
        );
        let plain = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(err(p(plain, "pw")), "x509: no DEK-Info header in block");
        let ca = TlsParam {
            cacerts: vec!["not a certificate".into()],
            ..p("", "")
        };
        assert_eq!(err(ca), "failed to append ca certificate [0] from PEM");
    }
}
