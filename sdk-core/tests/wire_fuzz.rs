//! Everything that reads what the other side sent meets arbitrary input: the
//! client's and the server's WebSocket message parsers, the realtime link, the
//! update spec, client record data, subscription queries and collection
//! configurations. Each answers a value or an error, and never panics.

use proptest::prelude::*;
use sdk_core::collection::CollectionConfig;
use sdk_core::realtime::Link;
use sdk_core::record::check_client_data;
use sdk_core::subscribe::subscription_filter;
use sdk_core::update::UpdateSpec;
use sdk_core::ws::{Channel, ClientMessage, PROTOCOL_ACTIONS, ServerMessage};
use serde_json::{Value, json};

/// JSON values built from the protocol's own words, so random input often gets
/// past the first check of each parser.
fn wire_value() -> impl Strategy<Value = Value> {
    let words = vec![
        "action",
        "collection",
        "response",
        "create",
        "update",
        "patch",
        "delete",
        "find",
        "getAll",
        "getOne",
        "connection",
        "error",
        "code",
        "message",
        "resume",
        "stream",
        "seq",
        "channels",
        "gap",
        "replayed",
        "channelType",
        "channelId",
        "usersChannels",
        "usersCurrentChannel",
        "userId",
        "joinChannel",
        "createChannel",
        "deleteChannel",
        "subscribeNotifications",
        "collections",
        "table",
        "ids",
        "httpRequest",
        "_id",
        "__v",
        "$set",
        "$inc",
        "$push",
        "$unset",
        "$rename",
        "rules",
        "read",
        "events",
        "properties",
        "type",
        "indexes",
        "ping",
        "pong",
        "query",
        "data",
        "id",
        "x",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        (0u64..5).prop_map(|n| json!(n)),
        prop::sample::select(words.clone()).prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let keys = prop::sample::select(words.clone());
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A frame with a known action and random fields.
fn frame() -> impl Strategy<Value = String> {
    // Every action the protocol names, an application's own and none.
    let mut names = PROTOCOL_ACTIONS.to_vec();
    names.extend(["chat", ""]);
    let actions = prop::sample::select(names);
    (actions, wire_value()).prop_map(|(a, v)| {
        let mut m = match v {
            Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("response".into(), other);
                m
            }
        };
        m.insert("action".into(), json!(a));
        Value::Object(m).to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn frames_never_panic_either_side(text in frame()) {
        let _ = ClientMessage::parse(&text);
        let _ = ServerMessage::parse(&text);
        let mut link = Link::new();
        link.on_open(0);
        let _ = link.on_frame(&text, 1);
    }

    #[test]
    fn any_text_frames_never_panic(text in ".{0,200}") {
        let _ = ClientMessage::parse(&text);
        let _ = ServerMessage::parse(&text);
        let mut link = Link::new();
        let _ = link.on_frame(&text, 0);
    }

    #[test]
    fn a_link_survives_any_sequence_of_frames(frames in prop::collection::vec(frame(), 0..12)) {
        let mut link = Link::new();
        let mut now = 0;
        for (i, f) in frames.iter().enumerate() {
            now += 1000;
            if i % 4 == 0 {
                link.on_close();
                let _ = link.reconnect_delay_ms(0.5);
                link.on_open(now);
            }
            let _ = link.on_frame(f, now);
            let _ = link.tick(now + 60_000);
            let _ = link.url_params();
        }
    }

    #[test]
    fn documents_never_panic_their_readers(v in wire_value()) {
        let _ = Channel::of(&v);
        let _ = UpdateSpec::parse(&v);
        let _ = check_client_data(v.clone(), Some("me"));
        let _ = check_client_data(v.clone(), None);
        let _ = subscription_filter(&v, Some("u1"));
        if let Ok(config) = serde_json::from_value::<CollectionConfig>(v) {
            let _ = config.check();
        }
    }
}
