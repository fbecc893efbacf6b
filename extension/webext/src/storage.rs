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
    #[wasm_bindgen(method, getter)]
    fn managed(this: &Storage) -> Option<StorageArea>;

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
    /// Read-only, set by an administrator's policy.
    Managed,
}

impl Area {
    /// The name `storage.onChanged` reports for this area.
    pub fn name(self) -> &'static str {
        match self {
            Area::Local => "local",
            Area::Session => "session",
            Area::Managed => "managed",
        }
    }

    fn handle(self) -> Result<StorageArea> {
        let storage: Storage = namespace("storage", "storage")?;
        match self {
            Area::Local => storage.local(),
            Area::Session => storage.session(),
            Area::Managed => storage.managed(),
        }
        .ok_or_else(|| WebExtError::new("storage", format!("no storage.{}", self.name())))
    }
}

/// Reads one key; `None` when it is absent.
pub async fn get<T: DeserializeOwned>(area: Area, key: &str) -> Result<Option<T>> {
    // The waiting is not generic: one state machine for every `T`, not one each.
    let items = get_raw(area, key).await?;
    item(&items, key)
}

async fn get_raw(area: Area, key: &str) -> Result<JsValue> {
    await_promise("storage.get", area.handle()?.get(&JsValue::from_str(key))).await
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
    set_raw(area, items).await
}

async fn set_raw(area: Area, items: js_sys::Object) -> Result<()> {
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

/// Reads several keys in one call; the items come back as one object (absent keys missing).
pub async fn get_many(area: Area, keys: &[String]) -> Result<JsValue> {
    let list = js_sys::Array::new();
    for k in keys {
        list.push(&JsValue::from_str(k));
    }
    await_promise("storage.get", area.handle()?.get(&list)).await
}

/// One item of what [`get_many`] returned; `None` when it is absent.
pub fn item<T: DeserializeOwned>(items: &JsValue, key: &str) -> Result<Option<T>> {
    let value = js_sys::Reflect::get(items, &JsValue::from_str(key))
        .map_err(|e| WebExtError::from_js("storage.get", e))?;
    if value.is_undefined() {
        return Ok(None);
    }
    json::from_js(&value).map(Some)
}

/// Writes several keys in one call (one `storage.onChanged` event for all of them).
pub async fn set_many<T: Serialize>(area: Area, items: &[(String, T)]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let object = js_sys::Object::new();
    for (k, v) in items {
        js_sys::Reflect::set(&object, &JsValue::from_str(k), &json::to_js(v)?)
            .map_err(|e| WebExtError::from_js("storage.set", e))?;
    }
    set_raw(area, object).await
}

/// Deletes several keys in one call.
pub async fn remove_many(area: Area, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let list = js_sys::Array::new();
    for k in keys {
        list.push(&JsValue::from_str(k));
    }
    await_promise("storage.remove", area.handle()?.remove(&list)).await?;
    Ok(())
}

/// A key's new and old value in a `storage.onChanged` `changes` object (`None`: absent, e.g.
/// a removed key has no new value).
pub fn change<T: DeserializeOwned>(changes: &JsValue, key: &str) -> (Option<T>, Option<T>) {
    let Ok(change) = js_sys::Reflect::get(changes, &JsValue::from_str(key)) else {
        return (None, None);
    };
    let value = |name: &str| {
        js_sys::Reflect::get(&change, &JsValue::from_str(name))
            .ok()
            .filter(|v| !v.is_undefined())
            .and_then(|v| json::from_js(&v).ok())
    };
    (value("newValue"), value("oldValue"))
}

/// The keys named in a `storage.onChanged` `changes` object.
pub fn changed_keys(changes: &JsValue) -> Vec<String> {
    js_sys::Object::keys(changes.unchecked_ref::<js_sys::Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect()
}

/// Everything managed storage holds (the administrator's policy). Without a policy Chrome
/// answers nothing and Firefox refuses ("Managed storage manifest not found"): both are no
/// policy, so only an unreadable answer is an error.
pub async fn managed_values() -> Result<serde_json::Map<String, serde_json::Value>> {
    let area = Area::Managed.handle()?;
    let items = match await_promise("storage.managed.get", area.get(&JsValue::NULL)).await {
        Ok(items) => items,
        Err(_) => return Ok(serde_json::Map::new()),
    };
    json::from_js(&items)
}
