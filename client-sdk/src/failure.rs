//! What a failure looks like when it is recorded: the error object of a run or span, a panic or
//! a cancelled future seen from a handle that drops, a type's short name, and a lock that a
//! panic elsewhere poisoned still opening.

use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

/// A poisoned mutex still opens: a panic in traced code must not take the SDK down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The error object of a run or span: `{"type", "message"}`.
pub(crate) fn error_value(kind: &str, message: &str) -> Value {
    json!({"type": kind, "message": message})
}

pub(crate) fn panic_error() -> Option<Value> {
    std::thread::panicking().then(|| error_value("panic", "the traced code panicked"))
}

/// The error to record when a handle drops: a panic, or (for handles the attribute macros
/// finish explicitly) a future dropped before it finished.
pub(crate) fn drop_error(cancel_on_drop: bool, what: &str) -> Option<Value> {
    panic_error().or_else(|| {
        cancel_on_drop.then(|| error_value("cancelled", &format!("the {what} future was dropped before it finished")))
    })
}

/// A type's name without its module path or generics: `std::io::error::Error` → `Error`.
pub(crate) fn type_name_of<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}
