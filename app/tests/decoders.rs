//! Every decoder the API and the sockets use, fed random bytes and random JSON: each either
//! decodes or says why not. None panics. (The server-side counterpart, random bodies against
//! the running server expecting no 5xx, is `server/tests/api/fuzz.rs`.)

use app::domain::{Command, EventEnvelope};
use app::protocol::*;
use proptest::prelude::*;
use serde_json::Value;

/// Arbitrary JSON, a few levels deep, with the field names the protocol uses mixed in so the
/// decoders get past "unknown shape" often.
fn json() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("type".to_owned()),
        Just("name".to_owned()),
        Just("party_size".to_owned()),
        Just("counter".to_owned()),
        Just("offset".to_owned()),
        Just("data".to_owned()),
        Just("status".to_owned()),
        Just("position".to_owned()),
        Just("max_waiting".to_owned()),
        Just("code".to_owned()),
        Just("cmd".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("snapshot".to_owned()),
            Just("update".to_owned()),
            Just("join".to_owned()),
            Just("waiting".to_owned()),
            ".{0,12}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Decode `bytes` as every protocol type; the result does not matter, only that it returns.
fn decode_all(bytes: &[u8]) {
    let _ = serde_json::from_slice::<JoinRequest>(bytes);
    let _ = serde_json::from_slice::<CallRequest>(bytes);
    let _ = serde_json::from_slice::<ActionRequest>(bytes);
    let _ = serde_json::from_slice::<LoginRequest>(bytes);
    let _ = serde_json::from_slice::<InviteRequest>(bytes);
    let _ = serde_json::from_slice::<AcceptInvite>(bytes);
    let _ = serde_json::from_slice::<ChangePassword>(bytes);
    let _ = serde_json::from_slice::<PairRequest>(bytes);
    let _ = serde_json::from_slice::<ScreenSettings>(bytes);
    let _ = serde_json::from_slice::<QueueLimit>(bytes);
    // What the browser decodes from the sockets and the API.
    let _ = serde_json::from_slice::<TicketMessage>(bytes);
    let _ = serde_json::from_slice::<VenueMessage<DisplaySnapshot>>(bytes);
    let _ = serde_json::from_slice::<VenueMessage<StaffSnapshot>>(bytes);
    let _ = serde_json::from_slice::<TicketView>(bytes);
    let _ = serde_json::from_slice::<ErrorBody>(bytes);
    // What the distributed log carries.
    let _ = serde_json::from_slice::<Command>(bytes);
    let _ = serde_json::from_slice::<EventEnvelope>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_a_decoder(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    #[test]
    fn random_json_never_panics_a_decoder(v in json()) {
        decode_all(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn what_the_server_sends_decodes_back(name in "[a-zA-Z ]{1,20}", position in 1u32..10_000) {
        // A ticket update as the server writes it reads back the same in the browser.
        let msg = TicketMessage::Update {
            offset: 7,
            status: "waiting".into(),
            position: Some(position),
            eta_seconds: Some(120),
            counter: None,
            calls: 0,
            queue: "bar".into(),
            queue_name: name.clone(),
        };
        let text = serde_json::to_string(&msg).unwrap();
        prop_assert_eq!(serde_json::from_str::<TicketMessage>(&text).unwrap(), msg);
    }
}
