//! Hostile input: random bytes, random JSON and odd paths at every body-taking route. Nothing
//! may answer 5xx, and every refusal must be the JSON error shape. Seeded, so a failure
//! replays exactly.

use crate::helpers::*;
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*): no extra crate, same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn string(&mut self) -> String {
        let len = self.below(40) as usize;
        (0..len)
            .map(|_| match self.below(6) {
                0 => char::from_u32(self.below(0x30000) as u32).unwrap_or('?'),
                1 => ['"', '\\', '\0', '\n', '\u{202e}', '{'][self.below(6) as usize],
                _ => (b' ' + self.below(95) as u8) as char,
            })
            .collect()
    }
    fn json(&mut self, depth: u32) -> Value {
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!((self.next() as i64) >> self.below(64)),
            3 => json!([1.5e300, -0.0, 0.1, 1e-300][self.below(4) as usize]),
            4 => json!(self.string()),
            5 => Value::Array((0..self.below(4)).map(|_| self.json(depth + 1)).collect()),
            _ => {
                let keys = [
                    "name",
                    "party_size",
                    "notes",
                    "counter",
                    "queue",
                    "to",
                    "email",
                    "password",
                ];
                let mut m = serde_json::Map::new();
                for _ in 0..self.below(5) {
                    let k = if self.below(3) == 0 {
                        self.string()
                    } else {
                        keys[self.below(8) as usize].to_owned()
                    };
                    m.insert(k, self.json(depth + 1));
                }
                Value::Object(m)
            }
        }
    }
}

#[tokio::test]
async fn random_bodies_and_paths_never_cause_a_server_error() {
    let app = spawn_app().await;
    let token = app.staff_token().await.to_owned();
    let ticket = app.join("bar", "Fuzz Target", 2).await;
    let routes = [
        "/api/v1/venues/demo/queues/bar/tickets".to_owned(),
        "/api/v1/venues/demo/queues/bar/walk-ins".to_owned(),
        "/api/v1/venues/demo/queues/bar/call-next".to_owned(),
        format!("/api/v1/venues/demo/tickets/{}/move", ticket.id),
        format!("/api/v1/venues/demo/tickets/{}/requeue", ticket.id),
        format!("/api/v1/venues/demo/tickets/{}/call", ticket.id),
        "/api/v1/auth/login".to_owned(),
    ];
    let mut rng = Rng(0x5EED_F11A);
    for case in 0..600 {
        let route = &routes[rng.below(routes.len() as u64) as usize];
        let mut req = app.client.post(app.url(route)).bearer_auth(&token);
        req = match rng.below(3) {
            0 => req.header("content-type", "application/json").body(
                (0..rng.below(200))
                    .map(|_| rng.next() as u8)
                    .collect::<Vec<u8>>(),
            ),
            _ => req.json(&rng.json(0)),
        };
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        assert!(status < 500, "case {case}: POST {route} answered {status}");
        if status >= 400 {
            assert_json_error(resp, status).await;
        }
    }
    for case in 0..200 {
        let segment: String = rng.string().bytes().map(|b| format!("%{b:02X}")).collect();
        for path in [
            format!("/api/v1/venues/{segment}"),
            format!("/api/v1/tickets/{segment}"),
            format!("/api/v1/venues/demo/tickets/{segment}/recall"),
            format!("/api/v1/venues/demo/queues/{segment}/pause"),
        ] {
            let resp = app
                .client
                .get(app.url(&path))
                .bearer_auth(&token)
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            assert!(status < 500, "case {case}: GET {path} answered {status}");
        }
    }
    // And the venue still works.
    assert_eq!(
        app.ticket(ticket.token.as_deref().unwrap()).await.number,
        ticket.number
    );
}
