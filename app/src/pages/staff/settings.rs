//! `/staff/:venue/settings`: every venue setting on one page. Staff see what they may change:
//! managers the queues, counters, screens, sizes and activity; owners also the venue, the team
//! and invites.

use super::activity::Activity;
use super::counters::CountersCard;
use super::dashboard::Dash;
use super::invite_form::InviteForm;
use super::queue_limits::QueueLimits;
use super::queue_settings::QueueSettingsCard;
use super::screens::Screens;
use super::team::Team;
use super::venue_settings::VenueSettings;
use leptos::prelude::*;

#[component]
pub(super) fn SettingsGrid(
    d: Dash,
    manager: Memo<bool>,
    owner: Memo<bool>,
    me: Memo<String>,
) -> impl IntoView {
    move || {
        if !manager.get() {
            return view! {
                <div class="card narrow" data-testid="settings-forbidden">
                    <p>"Only managers and owners can change this venue's settings."</p>
                </div>
            }
            .into_any();
        }
        view! {
            <div class="settings-grid" data-testid="settings-page">
                <div class="settings-col">
                    <VenueSettings d=d owner=owner/>
                    <QueueSettingsCard d=d owner=owner/>
                    <QueueLimits d=d/>
                    <CountersCard d=d/>
                </div>
                <div class="settings-col">
                    <Team d=d owner=owner me=me/>
                    {move || owner.get().then(|| view! { <InviteForm d=d/> })}
                    <Screens d=d owner=owner/>
                    <Activity d=d/>
                </div>
            </div>
        }
        .into_any()
    }
}
