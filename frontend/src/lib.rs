//! The browser entry point: hydrate the server-rendered page. Everything else lives in `app`.

// Leptos view types nest deeply (the staff dashboard especially).
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
