//! The phone's browser entry point: hydrate the join or ticket page the server rendered.
//! The server sends this bundle with those pages only (`app::pages::is_phone_path`).

// Leptos view types nest deeply.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::PhoneApp);
}
