//! LLM calls recorded automatically: async-openai (chat, then a stream) and a plain reqwest call,
//! inside one traced function. Works with any OpenAI-compatible server; by default a local
//! Ollama (`ollama serve`, `ollama pull llama3.2`), which needs no API key:
//!
//! ```sh
//! NORTHSTAR_ENDPOINT=http://127.0.0.1:8080/functions/v1/ingest-traces NORTHSTAR_API_KEY=ns_… \
//! OPENAI_BASE_URL=http://localhost:11434/v1 LLM_MODEL=llama3.2 \
//!   cargo run -p northstar --example llm --features async-openai,reqwest-middleware
//! ```
//!
//! For `https://` endpoints (api.openai.com, api.anthropic.com) your application enables a TLS
//! backend on its own reqwest 0.13 dependency, e.g. `reqwest = { version = "0.13", features =
//! ["rustls"] }`; this crate does not choose one for you.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures_util::StreamExt;
use serde_json::json;

#[northstar::trace(skip(client, http))]
async fn ask(
    client: &async_openai::Client<OpenAIConfig>,
    http: &reqwest_middleware::ClientWithMiddleware,
    base: &str,
    model: &str,
    question: String,
) -> Result<String, String> {
    // A plain call: recorded as a `model` span of this run.
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": model,
        "messages": [{"role": "system", "content": "Answer in one sentence."}, {"role": "user", "content": question}]
    }))
    .map_err(|e| e.to_string())?;
    let answer = client.chat().create(request).await.map_err(|e| e.to_string())?;
    let text = answer.choices.first().and_then(|c| c.message.content.clone()).unwrap_or_default();

    // A stream: chunks reach us unchanged; the span ends when the stream does.
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": model, "stream": true,
        "messages": [{"role": "user", "content": format!("Shorten this: {text}")}]
    }))
    .map_err(|e| e.to_string())?;
    let mut stream = client.chat().create_stream(request).await.map_err(|e| e.to_string())?;
    let mut short = String::new();
    while let Some(chunk) = stream.next().await {
        if let Some(delta) = chunk.map_err(|e| e.to_string())?.choices.first().and_then(|c| c.delta.content.clone()) {
            short.push_str(&delta);
        }
    }

    // The same API through plain reqwest with the middleware.
    let raw: serde_json::Value = http
        .post(format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .body(json!({"model": model, "messages": [{"role": "user", "content": "Say OK."}]}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let ok = raw.pointer("/choices/0/message/content").and_then(|c| c.as_str()).unwrap_or_default().to_owned();
    Ok(format!("{text}\n{short}\n{ok}"))
}

#[tokio::main]
async fn main() {
    let guard = northstar::init(northstar::Options::default());
    let base = std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| "http://localhost:11434/v1".into());
    let model = std::env::var("LLM_MODEL").unwrap_or_else(|_| "llama3.2".into());
    let key = std::env::var("OPENAI_API_KEY").unwrap_or_else(|_| "unused-by-ollama".into());

    let client = async_openai::Client::with_config(OpenAIConfig::new().with_api_base(&base).with_api_key(key))
        .with_http_service(northstar::instrument::openai_http_service(reqwest013::Client::new()));
    let http = reqwest_middleware::ClientBuilder::new(reqwest013::Client::new())
        .with(northstar::instrument::LlmMiddleware)
        .build();

    match ask(&client, &http, &base, &model, "Why do agents need tracing?".into()).await {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("the model call failed (is {base} reachable?): {err}"),
    }
    let delivered = tokio::task::spawn_blocking(|| northstar::flush(Duration::from_secs(10))).await.unwrap_or(false);
    println!("trace delivered: {delivered}; {:?}", northstar::stats());
    drop(guard);
}
