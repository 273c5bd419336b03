//! `GET /api/reference`: the OpenAPI document as a page people read, in the dashboard's style:
//! each operation with its parameters and answers, then each type with its fields. Rendered
//! once from the same document the API serves.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde_json::Value;

use crate::auth::escape;

static PAGE: LazyLock<String> = LazyLock::new(|| {
    let doc: Value = serde_json::from_str(&super::openapi::DOCUMENT).unwrap_or_default();
    render(&doc)
});

/// The page (public, as the document is; no script).
pub(crate) async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'self'; frame-ancestors 'none'")],
        Html(PAGE.as_str()),
    )
}

/// A schema's type as a reader wants it: a type name, `[T]`, an enum's values.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().filter_map(Value::as_str).map(escape).collect::<Vec<_>>().join(" | ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let parts: Vec<String> =
                options.iter().filter(|o| o.get("type").and_then(Value::as_str) != Some("null")).map(type_of).collect();
            return parts.join(" | ");
        }
    }
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => {
            types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" | ")
        }
        Some(Value::String(t)) => t.clone(),
        _ => "any".to_owned(),
    };
    match (ty.as_str(), schema.get("items")) {
        ("array", Some(items)) => format!("[{}]", type_of(items)),
        _ => match schema.get("format").and_then(Value::as_str) {
            Some(f) => format!("{} ({})", escape(&ty), escape(f)),
            None => escape(&ty),
        },
    }
}

fn text(v: &Value, key: &str) -> String {
    escape(v.get(key).and_then(Value::as_str).unwrap_or_default())
}

fn render(doc: &Value) -> String {
    let mut out = String::new();
    let info = &doc["info"];
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>NorthStar API reference</title>\
         <link rel=\"stylesheet\" href=\"/pkg/dashboard.css\"></head><body><main class=\"reference\">\
         <p><a href=\"/\">← Dashboard</a></p>\
         <h1>{} <span class=\"muted\">{}</span></h1><p>{}</p>\
         <p>The machine-readable document: <a href=\"/api/openapi.json\"><code>/api/openapi.json</code></a> \
         (OpenAPI {}). The MCP server for coding agents is at <code>/mcp</code>, with the same read key.</p>",
        text(info, "title"),
        text(info, "version"),
        text(info, "description"),
        text(doc, "openapi"),
    );
    let empty = serde_json::Map::new();
    for (path, item) in doc["paths"].as_object().unwrap_or(&empty) {
        for (method, op) in item.as_object().unwrap_or(&empty) {
            let _ = write!(
                out,
                "<section class=\"panel operation\"><h2><code>{} {}</code></h2><p>{} {}</p>",
                escape(&method.to_uppercase()),
                escape(path),
                text(op, "summary"),
                text(op, "description").replace("\n\n", "</p><p>"),
            );
            if let Some(params) = op.get("parameters").and_then(Value::as_array) {
                out.push_str("<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>");
                for p in params {
                    let required = if p["required"].as_bool() == Some(true) { " (required)" } else { "" };
                    let _ = write!(
                        out,
                        "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        text(p, "name"),
                        text(p, "in"),
                        type_of(&p["schema"]),
                        text(p, "description"),
                    );
                }
                out.push_str("</tbody></table>");
            }
            if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
                let _ = write!(out, "<p>Body: {}</p>", type_of(&Value::Object(body.clone())));
            }
            out.push_str("<table><thead><tr><th>Status</th><th>Answer</th></tr></thead><tbody>");
            for (status, response) in op["responses"].as_object().unwrap_or(&empty) {
                let answer = response["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .map_or_else(|| text(response, "description"), |c| type_of(&c["schema"]));
                let _ = write!(out, "<tr><td>{}</td><td>{answer}</td></tr>", escape(status));
            }
            out.push_str("</tbody></table></section>");
        }
    }
    out.push_str("<h2>Types</h2>");
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap_or(&empty) {
        let _ = write!(
            out,
            "<section class=\"panel schema\" id=\"schema-{0}\"><h3>{0}</h3><p>{1}</p>",
            escape(name),
            text(schema, "description")
        );
        let mut fields: Vec<(String, Value, bool)> = Vec::new();
        let mut collect = |s: &Value| {
            let required: Vec<&str> =
                s["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            for (field, f) in s["properties"].as_object().unwrap_or(&empty) {
                fields.push((field.clone(), f.clone(), required.contains(&field.as_str())));
            }
        };
        collect(schema);
        for part in schema["allOf"].as_array().into_iter().flatten() {
            collect(part);
        }
        if fields.is_empty() {
            let _ = write!(out, "<p>{}</p>", type_of(schema));
        } else {
            out.push_str("<table><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>");
            for (field, f, required) in fields {
                let optional = if required { "" } else { " (optional)" };
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code>{optional}</td><td>{}</td><td>{}</td></tr>",
                    escape(&field),
                    type_of(&f),
                    text(&f, "description")
                );
            }
            out.push_str("</tbody></table>");
        }
        out.push_str("</section>");
    }
    out.push_str("</main></body></html>");
    out
}
