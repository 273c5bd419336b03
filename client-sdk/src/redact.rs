//! Redaction of captured payloads, applied on the worker thread just before a record is
//! serialized, so the caller pays nothing for it.

use serde_json::Value;

use crate::options::{DEFAULT_REDACT_KEYS, Mask, Options};

pub(crate) const REDACTED: &str = "[REDACTED]";

/// Replaces the value of every object key in the redaction set (case-insensitive, any depth),
/// then applies the user's mask.
#[derive(Clone)]
pub(crate) struct Redactor {
    keys: Vec<String>,
    mask: Option<Mask>,
}

impl Redactor {
    pub(crate) fn new(options: &Options) -> Self {
        let mut keys: Vec<String> = DEFAULT_REDACT_KEYS.iter().map(|k| (*k).to_owned()).collect();
        keys.extend(options.redact_keys.iter().map(|k| k.to_ascii_lowercase()));
        keys.sort();
        keys.dedup();
        Self { keys, mask: options.mask.clone() }
    }

    pub(crate) fn apply(&self, value: &mut Value) {
        self.walk(value);
        if let Some(mask) = &self.mask {
            mask(value);
        }
    }

    fn walk(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if self.keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                        *v = Value::String(REDACTED.to_owned());
                    } else {
                        self.walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redacts_default_and_extra_keys_at_any_depth() {
        let r = Redactor::new(&Options::default().redact_key("SSN"));
        let mut v = json!({"Authorization": "Bearer x", "nested": [{"api_key": 1, "X-API-Key": "k", "ok": "visible"}],
                           "ssn": "123", "Password": {"deep": true}, "tokens": 5});
        r.apply(&mut v);
        assert_eq!(
            v,
            json!({"Authorization": REDACTED, "nested": [{"api_key": REDACTED, "X-API-Key": REDACTED, "ok": "visible"}],
                   "ssn": REDACTED, "Password": REDACTED, "tokens": 5})
        );
    }

    #[test]
    fn the_mask_runs_after_redaction() {
        let options = Options::default().mask(|v| {
            if let Some(s) = v.get_mut("email") {
                *s = json!("***");
            }
        });
        let mut v = json!({"email": "a@b.c", "token": "t"});
        Redactor::new(&options).apply(&mut v);
        assert_eq!(v, json!({"email": "***", "token": REDACTED}));
    }
}
