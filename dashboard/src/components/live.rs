//! Following the server's changes (`/api/live`, server-sent events) from a page: a counter that
//! goes up with every change announced for what the page shows, which the page's reads depend
//! on, and the "Live" switch that pauses it. Only the browser connects; the server renders
//! the page as it is.

use leptos::prelude::*;

/// A counter of the changes announced at `url` while `on` is true (0 until the first one).
/// A dropped connection reconnects by itself, and a paused page resumes: each counts as a
/// change (what was announced meanwhile was not heard).
pub fn live_changes(url: Memo<String>, on: RwSignal<bool>) -> ReadSignal<u64> {
    let (changes, set_changes) = signal(0_u64);
    #[cfg(feature = "hydrate")]
    {
        let stream = StoredValue::new_local(None::<browser::Stream>);
        Effect::new(move |was_on: Option<bool>| {
            let (url, on) = (url.get(), on.get());
            // Dropping the old stream closes it.
            stream.set_value(None);
            if on {
                stream.set_value(browser::Stream::open(&url, move || set_changes.update(|n| *n += 1)));
                // Resumed: what changed while paused was not heard.
                if was_on == Some(false) {
                    set_changes.update(|n| *n += 1);
                }
            }
            on
        });
        on_cleanup(move || stream.set_value(None));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, on, set_changes);
    changes
}

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    /// An open `EventSource`, closed on drop.
    pub(super) struct Stream {
        source: web_sys::EventSource,
        _on_change: Closure<dyn FnMut(web_sys::Event)>,
        _on_open: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Stream {
        pub(super) fn open(url: &str, changed: impl Fn() + Clone + 'static) -> Option<Self> {
            let source = web_sys::EventSource::new(url).ok()?;
            let on_change = {
                let changed = changed.clone();
                Closure::<dyn FnMut(web_sys::Event)>::new(move |_| changed())
            };
            // The first open is the page's own start; a later one is a reconnection.
            let mut opened = false;
            let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                if std::mem::replace(&mut opened, true) {
                    changed();
                }
            });
            source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref()).ok()?;
            source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref()).ok()?;
            Some(Self { source, _on_change: on_change, _on_open: on_open })
        }
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            self.source.close();
        }
    }
}

/// The "Live" switch: on, the page follows changes as they are ingested; off, it stays as it is.
#[component]
pub fn LiveToggle(on: RwSignal<bool>) -> impl IntoView {
    view! {
        <button type="button" id="live-toggle" class="live-toggle" class:paused=move || !on.get()
                aria-pressed=move || on.get().to_string() title="Follow new data as it arrives"
                on:click=move |_| on.update(|v| *v = !*v)>
            {move || if on.get() { "● Live" } else { "❚❚ Paused" }}
        </button>
    }
}
