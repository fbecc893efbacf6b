//! `storage.local` (durable, non-secret) and `storage.session` (in memory, secrets).
//! Change events (`storage.onChanged`) are registered by background.js and handed to the
//! background crate; this module only reads and writes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{await_promise, json, namespace, Result, WebExtError};

#[wasm_bindgen]
extern "C" {
    type Storage;
    #[wasm_bindgen(method, getter)]
    fn local(this: &Storage) -> Option<StorageArea>;
    #[wasm_bindgen(method, getter)]
    fn session(this: &Storage) -> Option<StorageArea>;

    type StorageArea;
    #[wasm_bindgen(method, catch)]
    fn get(this: &StorageArea, keys: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn set(this: &StorageArea, items: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn remove(this: &StorageArea, keys: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// Which storage area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Survives restarts; for durable, non-secret data.
    Local,
    /// Kept in memory, cleared when the browser quits; for secrets.
    Session,
}

impl Area {
    /// The name `storage.onChanged` reports for this area.
    pub fn name(self) -> &'static str {
        match self {
            Area::Local => "local",
            Area::Session => "session",
        }
    }

    fn handle(self) -> Result<StorageArea> {
        let storage: Storage = namespace("storage", "storage")?;
        match self {
            Area::Local => storage.local(),
            Area::Session => storage.session(),
        }
        .ok_or_else(|| WebExtError::new("storage", format!("no storage.{}", self.name())))
    }
}

/// Reads one key; `None` when it is absent.
pub async fn get<T: DeserializeOwned>(area: Area, key: &str) -> Result<Option<T>> {
    let items = await_promise("storage.get", area.handle()?.get(&JsValue::from_str(key))).await?;
    let value = js_sys::Reflect::get(&items, &JsValue::from_str(key))
        .map_err(|e| WebExtError::from_js("storage.get", e))?;
    if value.is_undefined() {
        return Ok(None);
    }
    json::from_js(&value).map(Some)
}

/// Reads one key; its default when it is absent or cannot be read (the caller would do no
/// better with the error: an unreadable value is one written by an older build).
pub async fn get_or_default<T: DeserializeOwned + Default>(area: Area, key: &str) -> T {
    get(area, key).await.ok().flatten().unwrap_or_default()
}

/// Writes one key.
pub async fn set<T: Serialize + ?Sized>(area: Area, key: &str, value: &T) -> Result<()> {
    let items = js_sys::Object::new();
    js_sys::Reflect::set(&items, &JsValue::from_str(key), &json::to_js(value)?)
        .map_err(|e| WebExtError::from_js("storage.set", e))?;
    await_promise("storage.set", area.handle()?.set(&items)).await?;
    Ok(())
}

/// Deletes one key.
pub async fn remove(area: Area, key: &str) -> Result<()> {
    await_promise(
        "storage.remove",
        area.handle()?.remove(&JsValue::from_str(key)),
    )
    .await?;
    Ok(())
}

/// The keys named in a `storage.onChanged` `changes` object.
pub fn changed_keys(changes: &JsValue) -> Vec<String> {
    js_sys::Object::keys(changes.unchecked_ref::<js_sys::Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect()
}
