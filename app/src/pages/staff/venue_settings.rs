//! The "Venue" settings card: its name and time zone (owners; others see them).

use super::dashboard::Dash;
use crate::client::api_post;
use crate::protocol::{TimeZoneSetting, VenueName};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

#[component]
pub(super) fn VenueSettings(d: Dash, owner: Memo<bool>) -> impl IntoView {
    let current = move || {
        d.snap.with(|s| {
            s.as_ref()
                .map(|s| (s.venue_name.clone(), s.time_zone.clone()))
                .unwrap_or_default()
        })
    };
    let (name0, zone0) = current();
    let venue_name = RwSignal::new(name0);
    let zone = RwSignal::new(zone0);

    let rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = VenueName {
            name: venue_name.get_untracked(),
        };
        let path = format!("{}/name", d.base());
        spawn_local(async move {
            match api_post::<VenueName>(&path, &body).await {
                Ok(v) => {
                    d.notice
                        .try_set(Some(format!("The venue is now called {}.", v.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let set_zone = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = TimeZoneSetting {
            time_zone: zone.get_untracked(),
            utc_offset_minutes: 0,
        };
        let path = format!("{}/time-zone", d.base());
        spawn_local(async move {
            match api_post::<TimeZoneSetting>(&path, &body).await {
                Ok(z) => {
                    let name = if z.time_zone.is_empty() {
                        "UTC".to_owned()
                    } else {
                        z.time_zone.clone()
                    };
                    zone.try_set(z.time_zone);
                    let (h, m) = (z.utc_offset_minutes / 60, (z.utc_offset_minutes % 60).abs());
                    d.notice
                        .try_set(Some(format!("Time zone: {name} (UTC{h:+}:{m:02} now).")));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let use_device_zone = move |_| {
        if let Some(z) = crate::client::device_time_zone() {
            zone.set(z);
        }
    };
    view! {
        <section class="card venue-settings" data-testid="venue-settings">
            <h2>"Venue"</h2>
            {move || if owner.get() {
                view! {
                    <form on:submit=rename novalidate>
                        <label class="field">
                            <span>"Name"</span>
                            <input data-testid="venue-name" bind:value=venue_name/>
                        </label>
                        <button type="submit" class="button small" data-testid="rename-venue">"Rename"</button>
                    </form>
                    <form on:submit=set_zone novalidate>
                        <label class="field">
                            <span>"Time zone (for open hours and when numbers restart)"</span>
                            <input data-testid="time-zone" placeholder="Europe/Lisbon" list="time-zone-hints" bind:value=zone/>
                        </label>
                        <button type="submit" class="button small" data-testid="save-time-zone">"Save time zone"</button>
                        <button type="button" class="button subtle small" data-testid="device-time-zone" on:click=use_device_zone>"Use this device's"</button>
                    </form>
                }.into_any()
            } else {
                let (name, zone) = current();
                let zone = if zone.is_empty() { "UTC".to_owned() } else { zone };
                view! {
                    <p>{name}</p>
                    <p class="hint">"Time zone: "{zone}</p>
                }.into_any()
            }}
        </section>
    }
}
