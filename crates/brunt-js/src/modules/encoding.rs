//! Native side of `k6/encoding`: base64 in k6's four alphabets.

use super::{array_buffer, bytes_of, def, throw};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result, Value};

/// k6's encoding names: `std` (default), `rawstd`, `url`, `rawurl`.
fn engine(name: Option<&str>) -> Option<&'static base64::engine::GeneralPurpose> {
    match name.unwrap_or("std") {
        "" | "std" => Some(&STANDARD),
        "rawstd" => Some(&STANDARD_NO_PAD),
        "url" => Some(&URL_SAFE),
        "rawurl" => Some(&URL_SAFE_NO_PAD),
        _ => None,
    }
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "b64encode",
        |ctx: Ctx<'js>, input: Value<'js>, enc: Opt<Option<String>>| -> Result<String> {
            let e = engine(enc.0.flatten().as_deref()).ok_or_else(|| {
                throw(
                    &ctx,
                    "unknown base64 encoding; use std, rawstd, url or rawurl",
                )
            })?;
            Ok(e.encode(bytes_of(&ctx, &input)?))
        },
    )?;
    def(
        ctx,
        native,
        "b64decode",
        |ctx: Ctx<'js>,
         input: String,
         enc: Opt<Option<String>>,
         format: Opt<Option<String>>|
         -> Result<Value<'js>> {
            let e = engine(enc.0.flatten().as_deref()).ok_or_else(|| {
                throw(
                    &ctx,
                    "unknown base64 encoding; use std, rawstd, url or rawurl",
                )
            })?;
            let bytes = e
                .decode(input.trim_end_matches(['\n', '\r']))
                .map_err(|err| throw(&ctx, &format!("invalid base64 input: {err}")))?;
            if format.0.flatten().as_deref() == Some("s") {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                return rquickjs::String::from_str(ctx, &s).map(|s| s.into_value());
            }
            array_buffer(&ctx, bytes)
        },
    )?;
    Ok(())
}
