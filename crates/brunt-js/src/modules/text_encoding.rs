//! Native side of the `TextEncoder` and `TextDecoder` globals (WHATWG Encoding; UTF-8, UTF-16LE
//! and UTF-16BE, as k6 v2 has them). `js/text_encoding.js` keeps a decoder's state between
//! streamed calls; this file turns bytes into text and back.

use super::{array_buffer, bytes_of, def};
use crate::host::Host;
use rquickjs::{Array, Ctx, Exception, Object, Result, Value};
use std::rc::Rc;

/// The internal module that holds the JavaScript layer.
pub(crate) const LAYER: &str = "brunt:text-encoding";

/// Adds `TextEncoder` and `TextDecoder` (on a script's first use of either name).
pub(crate) fn install_global<'js>(
    ctx: &Ctx<'js>,
    globals: &Object<'js>,
    host: &Rc<Host>,
) -> Result<()> {
    let ns = crate::loader::evaluate_internal(ctx, &host.shared, LAYER)?;
    globals.set("TextEncoder", ns.get::<_, Value>("TextEncoder")?)?;
    globals.set("TextDecoder", ns.get::<_, Value>("TextDecoder")?)
}

/// The canonical name of an encoding label, as the Encoding standard lists them.
fn canonical(label: &str) -> Option<&'static str> {
    Some(
        match label
            .trim_matches(['\t', '\n', '\x0c', '\r', ' '])
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "unicode-1-1-utf-8" | "unicode11utf8" | "unicode20utf8" | "utf-8" | "utf8"
            | "x-unicode20utf8" => "utf-8",
            "csunicode" | "iso-10646-ucs-2" | "ucs-2" | "unicode" | "unicodefeff" | "utf-16"
            | "utf-16le" => "utf-16le",
            "unicodefffe" | "utf-16be" => "utf-16be",
            _ => return None,
        },
    )
}

/// What one `decode()` call gives: the text, and the bytes of an incomplete character held
/// back for the next streamed call.
struct Decoded {
    text: String,
    rest: Vec<u8>,
    invalid: bool,
}

fn decode_utf8(bytes: &[u8], stream: bool) -> Decoded {
    let mut end = bytes.len();
    if stream {
        if let Err(e) = std::str::from_utf8(bytes) {
            // An incomplete sequence at the very end waits for the next chunk.
            if e.error_len().is_none() {
                end = e.valid_up_to();
                let tail = &bytes[end..];
                if std::str::from_utf8(tail).is_err() && tail.len() >= 4 {
                    end = bytes.len();
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes[..end]);
    let invalid = matches!(text, std::borrow::Cow::Owned(_));
    Decoded {
        text: text.into_owned(),
        rest: bytes[end..].to_vec(),
        invalid,
    }
}

fn decode_utf16(bytes: &[u8], big_endian: bool, stream: bool) -> Decoded {
    let mut end = bytes.len() - bytes.len() % 2;
    let unit = |i: usize| {
        let pair = [bytes[i], bytes[i + 1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    };
    // A lead surrogate at the end waits for its trail when streaming.
    if stream && end >= 2 && (0xd800..0xdc00).contains(&unit(end - 2)) {
        end -= 2;
    }
    if !stream {
        end = bytes.len();
    }
    let units: Vec<u16> = (0..end / 2).map(|i| unit(i * 2)).collect();
    let mut invalid = end % 2 == 1;
    let mut text: String = char::decode_utf16(units)
        .map(|c| {
            c.unwrap_or_else(|_| {
                invalid = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    if end % 2 == 1 {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    Decoded {
        text,
        rest: bytes[end.min(bytes.len())..].to_vec(),
        invalid,
    }
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "canonical",
        |ctx: Ctx<'js>, label: String| -> Result<String> {
            canonical(&label).map(str::to_owned).ok_or_else(|| {
                Exception::throw_range(&ctx, &format!("unsupported encoding: {label}"))
            })
        },
    )?;
    def(
        ctx,
        native,
        "encode",
        |ctx: Ctx<'js>, text: String| -> Result<Value<'js>> {
            array_buffer(&ctx, text.into_bytes())
        },
    )?;
    // `[text, heldBackBytes]`; the layer strips a leading BOM.
    def(
        ctx,
        native,
        "decode",
        |ctx: Ctx<'js>,
         encoding: String,
         input: Value<'js>,
         fatal: bool,
         stream: bool|
         -> Result<Array<'js>> {
            let bytes = bytes_of(&ctx, &input)?;
            let d = match encoding.as_str() {
                "utf-16le" => decode_utf16(&bytes, false, stream),
                "utf-16be" => decode_utf16(&bytes, true, stream),
                _ => decode_utf8(&bytes, stream),
            };
            if fatal && d.invalid {
                return Err(Exception::throw_type(
                    &ctx,
                    "decoding text: invalid byte sequence",
                ));
            }
            let out = Array::new(ctx.clone())?;
            out.set(0, d.text)?;
            out.set(1, array_buffer(&ctx, d.rest)?)?;
            Ok(out)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_utf8_holds_back_an_incomplete_character() {
        let euro = "€".as_bytes();
        let d = decode_utf8(&[b'a', euro[0], euro[1]], true);
        assert_eq!((d.text.as_str(), d.rest.as_slice()), ("a", &euro[..2]));
        let d = decode_utf8(&[b'a', euro[0]], false);
        assert_eq!(d.text, "a\u{fffd}");
        assert!(d.invalid);
    }

    #[test]
    fn utf16_in_both_byte_orders() {
        assert_eq!(decode_utf16(&[0x68, 0, 0x69, 0], false, false).text, "hi");
        assert_eq!(decode_utf16(&[0, 0x68, 0, 0x69], true, false).text, "hi");
        let d = decode_utf16(&[0x3d, 0xd8], false, true);
        assert_eq!((d.text.as_str(), d.rest.len()), ("", 2));
    }

    #[test]
    fn labels_are_the_encoding_standards() {
        assert_eq!(canonical(" UTF8 "), Some("utf-8"));
        assert_eq!(canonical("utf-16"), Some("utf-16le"));
        assert_eq!(canonical("latin1"), None);
    }
}
