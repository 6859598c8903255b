//! Native side of `k6/secrets`: a value from the run's `--secret-source`s, or k6's error
//! message, which the layer (`js/secrets.js`) turns into a rejection.

use super::{def, throw};
use crate::host::Host;
use rquickjs::{Ctx, Object, Result};
use std::rc::Rc;

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let h = host.clone();
    def(
        ctx,
        native,
        "get",
        move |ctx: Ctx<'js>, source: String, key: String| -> Result<String> {
            h.shared
                .secrets
                .get(&source, &key)
                .map_err(|e| throw(&ctx, &e))
        },
    )
}
