//! JSON documents as clients send them: update specs, record data (owner set or
//! not), subscription queries, channels and collection configurations. Each is
//! read or refused, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::collection::CollectionConfig;
use sdk_core::record::check_client_data;
use sdk_core::subscribe::subscription_filter;
use sdk_core::update::UpdateSpec;
use sdk_core::ws::Channel;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = Channel::of(&v);
    let _ = UpdateSpec::parse(&v);
    let _ = check_client_data(v.clone(), Some("me"));
    let _ = check_client_data(v.clone(), None);
    let _ = subscription_filter(&v, Some("u1"));
    if let Ok(config) = serde_json::from_value::<CollectionConfig>(v) {
        let _ = config.check();
    }
});
