//! Batch validation never panics, and whatever it accepts serializes to a body it accepts again
//! as the same batch. Run: `cd fuzz && cargo +nightly fuzz run batch_validation corpus/batch_validation`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use northstar_wire::Batch;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = Batch::from_json_slice(data) {
        let again = Batch::from_json_slice(&batch.to_json()).expect("a serialized batch is valid");
        assert_eq!(again, batch);
    }
});
