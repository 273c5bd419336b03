//! `tracing` integration: inside a NorthStar run, `tracing` spans become NorthStar spans (their
//! fields become attributes) and `tracing` events become `custom` events, so an agent already
//! instrumented with `tracing` is traced with one line:
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! let subscriber = tracing_subscriber::registry().with(northstar::tracing_layer());
//! tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
//! ```
//!
//! Spans and events outside any run are ignored.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use northstar_wire::{EventType, SpanKind};

use crate::context::{Context, Entered};
use crate::span::SpanHandle;

/// The layer; see [`tracing_layer`].
#[derive(Debug, Default, Clone, Copy)]
pub struct NorthstarLayer {
    _private: (),
}

/// A `tracing_subscriber` layer that records `tracing` spans and events inside NorthStar runs.
#[must_use]
pub fn tracing_layer() -> NorthstarLayer {
    NorthstarLayer::default()
}

/// Kept in the `tracing` span's extensions: the NorthStar span (ended when the `tracing` span
/// closes) and the context it opens.
struct Recorded {
    span: SpanHandle,
    context: Context,
}

thread_local! {
    /// Contexts entered by `on_enter`, left by `on_exit` (guards cannot live in extensions).
    static ENTERED: RefCell<HashMap<u64, Vec<Entered>>> = RefCell::new(HashMap::new());
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
}

fn context_of<S>(ctx: &LayerContext<'_, S>, id: Option<&Id>) -> Context
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let recorded = id
        .and_then(|id| ctx.span(id))
        .and_then(|span| span.scope().find_map(|s| s.extensions().get::<Recorded>().map(|r| r.context.clone())));
    recorded.unwrap_or_else(Context::current)
}

impl<S> tracing_subscriber::Layer<S> for NorthstarLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let parent = context_of(&ctx, attrs.parent());
        let Some(run) = parent.run.as_ref() else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let meta = attrs.metadata();
        fields.0.insert("tracing.target".into(), json!(meta.target()));
        fields.0.insert("tracing.level".into(), json!(meta.level().as_str()));
        let span =
            SpanHandle::start(Some(run), parent.span_id(), meta.name().to_owned(), SpanKind::Custom, Some(fields.0));
        let context = Context { run: Some(run.clone()), span: span.state.clone() };
        if let Some(s) = ctx.span(id) {
            s.extensions_mut().insert(Recorded { span, context });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        if let Some(s) = ctx.span(id)
            && let Some(recorded) = s.extensions().get::<Recorded>()
        {
            let mut fields = Fields::default();
            values.record(&mut fields);
            for (k, v) in fields.0 {
                recorded.span.set_attribute(k, v);
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if let Some(s) = ctx.span(id)
            && let Some(recorded) = s.extensions().get::<Recorded>()
        {
            let entered = recorded.context.enter();
            ENTERED.with(|m| m.borrow_mut().entry(id.into_u64()).or_default().push(entered));
        }
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let _ = ENTERED.try_with(|m| {
            let mut map = m.borrow_mut();
            if let Some(stack) = map.get_mut(&id.into_u64()) {
                stack.pop();
                if stack.is_empty() {
                    map.remove(&id.into_u64());
                }
            }
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let context = context_of(&ctx, event.parent());
        let Some(run) = context.run.as_ref() else { return };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let name = fields.0.remove("message").unwrap_or_else(|| json!(meta.name()));
        let mut attributes = Map::new();
        attributes.insert("northstar_type".into(), json!("tracing"));
        attributes.insert("level".into(), json!(meta.level().as_str()));
        attributes.insert("target".into(), json!(meta.target()));
        run.event(context.span_id(), EventType::Custom, json!({"name": name, "fields": fields.0}), attributes);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        if let Some(s) = ctx.span(&id) {
            // Dropping the handle ends the NorthStar span.
            drop(s.extensions_mut().remove::<Recorded>());
        }
    }
}
