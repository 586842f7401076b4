//! `edgefn:functions/secrets`.

use super::SecretsCtx;
use crate::wasm::bindings::secrets::Host;

impl Host for SecretsCtx {
    fn get(&mut self, name: String) -> Option<String> {
        self.secrets.get(&name).cloned()
    }
}
