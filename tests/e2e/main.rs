//! End-to-end tests, in one binary (each test binary links the whole product): a module per
//! subject. The dashboard in a real browser (`browser`, on the harness in `chromium`), the SDK
//! against a server killed and a database restarted (`faults`), and clients other people wrote:
//! the OpenTelemetry SDKs (`otlp`, `otlp_python`), the MCP SDK and schemathesis (`api_clients`).

mod api_clients;
mod browser;
mod chromium;
mod faults;
mod otlp;
mod otlp_python;
mod prompts_browser;
