//! Prompt templates as the original SDK reads them (its `_prompt_template.py`): a variable is
//! `{{ name }}` (spaces optional) or `{name}` (single braces not part of a double pair), a name
//! being `[A-Za-z_][A-Za-z0-9_]*`. The registry infers a version's variables with
//! [`variables`]; SDKs render with [`render`]. Anything else in braces (JSON examples) is text.
//!
//! ```
//! use northstar_wire::prompt;
//!
//! let template = "Hello {{ name }}, you asked {question}. {\"json\": true}";
//! assert_eq!(prompt::variables(template), ["name", "question"]);
//! let vars = [("name", "Ada"), ("question", "why")];
//! assert_eq!(prompt::render(template, |n| vars.iter().find(|v| v.0 == n).map(|v| v.1.to_owned())).unwrap(),
//!            "Hello Ada, you asked why. {\"json\": true}");
//! ```

use std::collections::BTreeSet;
use std::fmt;

/// Longest content a version may have, in characters (the original's check).
pub const MAX_CONTENT_CHARS: usize = 65_536;

/// One variable occurrence: its byte range in the template and its name.
struct Slot<'a> {
    start: usize,
    end: usize,
    name: &'a str,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `{{ name }}` slots, then the `{name}` slots of what is left (the original substitutes
/// in that order, so a single-brace slot is matched on the text after the double-brace pass;
/// for inference both sets are read from the template itself, as it does).
fn double_slots(t: &str) -> Vec<Slot<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = t[from..].find("{{").map(|i| i + from) {
        let inner_start = open + 2;
        match t[inner_start..].find("}}").map(|i| i + inner_start) {
            Some(close) if is_name(t[inner_start..close].trim_matches(|c: char| c.is_ascii_whitespace())) => {
                let name = t[inner_start..close].trim_matches(|c: char| c.is_ascii_whitespace());
                out.push(Slot { start: open, end: close + 2, name });
                from = close + 2;
            }
            _ => from = open + 1,
        }
    }
    out
}

fn single_slots(t: &str) -> Vec<Slot<'_>> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    for (open, _) in t.match_indices('{') {
        if open > 0 && b[open - 1] == b'{' {
            continue;
        }
        let Some(close) = t[open + 1..].find('}').map(|i| i + open + 1) else { continue };
        let name = &t[open + 1..close];
        if is_name(name) && b.get(close + 1) != Some(&b'}') {
            out.push(Slot { start: open, end: close + 1, name });
        }
    }
    out
}

/// The template's variable names, sorted, each once.
#[must_use]
pub fn variables(template: &str) -> Vec<String> {
    let names: BTreeSet<&str> =
        double_slots(template).into_iter().chain(single_slots(template)).map(|s| s.name).collect();
    names.into_iter().map(str::to_owned).collect()
}

/// The original's variable schema of a template: `{"name", "type": "string", "required": true,
/// "default": null}` per variable.
#[must_use]
pub fn variables_schema(template: &str) -> serde_json::Value {
    variables(template)
        .into_iter()
        .map(|name| serde_json::json!({"name": name, "type": "string", "required": true, "default": null}))
        .collect()
}

/// Variables a template needs that were not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVariables(pub Vec<String>);

impl fmt::Display for MissingVariables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The original SDK's message.
        write!(f, "Missing prompt variables: {}", self.0.join(", "))
    }
}

impl std::error::Error for MissingVariables {}

fn substitute(t: &str, slots: &[Slot<'_>], value: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(t.len());
    let mut at = 0;
    for slot in slots {
        out.push_str(&t[at..slot.start]);
        out.push_str(&value(slot.name).unwrap_or_default());
        at = slot.end;
    }
    out.push_str(&t[at..]);
    out
}

/// The template with every variable replaced by `value(name)`.
///
/// # Errors
///
/// [`MissingVariables`] naming every variable `value` has nothing for, before any is replaced.
pub fn render(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, MissingVariables> {
    let missing: Vec<String> = variables(template).into_iter().filter(|n| value(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(MissingVariables(missing));
    }
    let once = substitute(template, &double_slots(template), &value);
    Ok(substitute(&once, &single_slots(&once), &value))
}

/// The content hash the registry stores: SHA-256 of the content, 64 lower-case hex digits.
#[cfg(feature = "keys")]
#[must_use]
pub fn content_hash(content: &str) -> String {
    crate::keys::hash(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| vars.iter().find(|v| v.0 == n).map(|v| v.1.to_owned())
    }

    #[test]
    fn both_brace_styles_are_variables_and_json_is_not() {
        let t = "{{a}} {{ b }} {c} {{{d}}} {\"k\": 1} { e } {1x} {{ f.g }}";
        assert_eq!(variables(t), ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_missing_variable_is_named_with_the_original_message() {
        let err = render("{{ b }} and {a}", from(&[])).expect_err("refused");
        assert_eq!(err.to_string(), "Missing prompt variables: a, b");
    }

    #[test]
    fn rendering_replaces_every_occurrence_and_keeps_other_braces() {
        let out = render("{{x}}-{x}-{{ x }} {{}} {\"y\": 2}", from(&[("x", "1")])).expect("rendered");
        assert_eq!(out, "1-1-1 {{}} {\"y\": 2}");
    }

    #[test]
    fn a_value_is_not_rendered_again() {
        // A value that looks like a variable stays as given (as far as the original's passes go).
        let out = render("{{ a }}", from(&[("a", "{{ b }}")])).expect("rendered");
        assert_eq!(out, "{{ b }}");
    }

    #[test]
    fn the_schema_is_the_originals() {
        assert_eq!(
            variables_schema("{{ q }}"),
            serde_json::json!([{"name": "q", "type": "string", "required": true, "default": null}])
        );
    }
}
