//! The options page: server URL and agent name, saved through the background.
//!
//! Saving first asks for host permission on the server's origin, synchronously inside the click
//! (Firefox grants optional host permissions only from a user gesture, before any `await`).

use cobrowse_agent::chat::attention::NotifySettings;
use cobrowse_agent::chat::Retention;
use cobrowse_agent::protocol::{PopupReply, PopupRequest, Snapshot};
use cobrowse_agent::settings::{Policy, ServerUrl, Settings};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::backend;
use crate::i18n::{t, t_with};

#[derive(Debug, Clone, PartialEq)]
enum SaveStatus {
    Idle,
    Saving,
    Saved {
        permission_granted: bool,
        origin: String,
    },
    Failed(String),
}

/// The page: loads the snapshot once, then shows its forms filled from it.
#[function_component(OptionsApp)]
pub fn options_app() -> Html {
    let snapshot = use_state(|| None::<Snapshot>);
    let failed = use_state(|| None::<String>);
    {
        let (snapshot, failed) = (snapshot.setter(), failed.setter());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match backend::request(PopupRequest::GetSnapshot).await {
                    Ok(PopupReply::Snapshot(s) | PopupReply::SettingsSaved(s)) => {
                        snapshot.set(Some(s))
                    }
                    Ok(PopupReply::Refused(r)) | Err(r) => failed.set(Some(t(&r.message_key))),
                    Ok(PopupReply::Chat(_)) => failed.set(Some(t("errorInternal"))),
                }
            });
        });
    }
    html! {
        <main class="options">
            <h1>{ t("optionsTitle") }</h1>
            if let Some(s) = (*snapshot).clone() {
                <SettingsForm settings={s.settings} policy={s.policy} />
                <NotifyForm initial={s.notify} />
                <RetentionForm initial={s.retention} />
            } else if let Some(message) = (*failed).clone() {
                <p id="save-status" class="error" data-state="failed" role="alert">{ message }</p>
            } else {
                <form id="settings-form" data-loaded="false"></form>
            }
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct SettingsFormProps {
    settings: Settings,
    /// The admin's policy (a locked server cannot be changed here).
    policy: Policy,
}

/// Server URL and agent name.
#[function_component(SettingsForm)]
fn settings_form(props: &SettingsFormProps) -> Html {
    let server_url = use_state(|| props.settings.server_url.clone());
    let agent_name = use_state(|| props.settings.agent_name.clone());
    let status = use_state(|| SaveStatus::Idle);
    let on_input = |field: UseStateHandle<String>| {
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            field.set(input.value());
        })
    };
    let locked = props.policy.server_url_locked;
    let on_submit = {
        let policy = props.policy.clone();
        let (server_url, agent_name, status) =
            (server_url.clone(), agent_name.clone(), status.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = Settings {
                server_url: (*server_url).clone(),
                agent_name: (*agent_name).clone(),
            };
            let valid = match policy.allows(&typed) {
                Ok(v) => v,
                Err(err) => return status.set(SaveStatus::Failed(t(err.message_key()))),
            };
            let Ok(server) = ServerUrl::parse(&valid.server_url) else {
                return status.set(SaveStatus::Failed(t("errorUrlInvalid")));
            };
            // Started now, inside the gesture; awaited below.
            let permission =
                webext::permissions::request_origins(&[server.host_permission_pattern()]);
            status.set(SaveStatus::Saving);
            let status = status.clone();
            spawn_local(async move {
                let permission_granted = match permission.await {
                    Ok(granted) => granted,
                    Err(e) => {
                        webext::log_error(&format!("[cobrowse-agent] {e}"));
                        false
                    }
                };
                let next = match backend::request(PopupRequest::SaveSettings(valid)).await {
                    Ok(PopupReply::SettingsSaved(_)) => SaveStatus::Saved {
                        permission_granted,
                        origin: server.origin(),
                    },
                    Ok(PopupReply::Snapshot(_) | PopupReply::Chat(_)) => {
                        SaveStatus::Failed(t("errorInternal"))
                    }
                    Ok(PopupReply::Refused(r)) | Err(r) => SaveStatus::Failed(t(&r.message_key)),
                };
                status.set(next);
            });
        })
    };
    let status_view = match &*status {
        SaveStatus::Idle => html! { <p id="save-status" class="muted" aria-live="polite"></p> },
        SaveStatus::Saving => {
            html! { <p id="save-status" class="muted" aria-live="polite">{ t("statusSaving") }</p> }
        }
        SaveStatus::Saved {
            permission_granted: true,
            ..
        } => {
            html! { <p id="save-status" class="ok" data-state="saved" aria-live="polite">{ t("statusSaved") }</p> }
        }
        SaveStatus::Saved {
            permission_granted: false,
            origin,
        } => html! {
            <p id="save-status" class="warning" data-state="saved" aria-live="polite">
                { t_with("statusSavedNoPermission", &[origin]) }
            </p>
        },
        SaveStatus::Failed(message) => {
            html! { <p id="save-status" class="error" data-state="failed" role="alert">{ message.clone() }</p> }
        }
    };
    html! {
        <>
            <form id="settings-form" onsubmit={on_submit} data-loaded="true">
                <label for="server-url">{ t("labelServerUrl") }</label>
                <input id="server-url" type="url" required=true autocomplete="url" readonly={locked}
                    value={ (*server_url).clone() } oninput={ on_input(server_url.clone()) } />
                if locked {
                    <p id="server-url-locked" class="muted">{ t("serverUrlLockedNote") }</p>
                }
                <label for="agent-name">{ t("labelAgentName") }</label>
                <input id="agent-name" type="text" required=true autocomplete="username"
                    value={ (*agent_name).clone() } oninput={ on_input(agent_name.clone()) } />
                <button id="save" type="submit" disabled={ *status == SaveStatus::Saving }>{ t("buttonSave") }</button>
            </form>
            { status_view }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct NotifyFormProps {
    initial: NotifySettings,
}

/// System notifications: on/off and the repeat interval.
#[function_component(NotifyForm)]
fn notify_form(props: &NotifyFormProps) -> Html {
    let enabled = use_state(|| props.initial.enabled);
    let repeat = use_state(|| props.initial.repeat_seconds.to_string());
    let saved = use_state(|| None::<String>);
    let on_toggle = {
        let enabled = enabled.clone();
        Callback::from(move |e: Event| {
            enabled.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_repeat = {
        let repeat = repeat.clone();
        Callback::from(move |e: InputEvent| {
            repeat.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_submit = {
        let (enabled, repeat, saved) = (enabled.clone(), repeat.clone(), saved.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let settings = NotifySettings {
                enabled: *enabled,
                repeat_seconds: repeat.trim().parse().unwrap_or(60),
            };
            let saved = saved.clone();
            spawn_local(async move {
                let text = match backend::request(PopupRequest::SaveNotifySettings(settings)).await
                {
                    Ok(PopupReply::SettingsSaved(_)) => t("statusSaved"),
                    Ok(PopupReply::Refused(r)) | Err(r) => t(&r.message_key),
                    Ok(_) => t("errorInternal"),
                };
                saved.set(Some(text));
            });
        })
    };
    html! {
        <form id="notify-form" class="notify" onsubmit={on_submit}>
            <label class="check">
                <input id="notify-enabled" type="checkbox" checked={*enabled} onchange={on_toggle} />
                { t("labelNotifications") }
            </label>
            <label for="notify-repeat">{ t("labelNotifyRepeat") }</label>
            <input id="notify-repeat" type="number" min="0" step="30" value={(*repeat).clone()} oninput={on_repeat} />
            <button id="notify-save" type="submit">{ t("buttonSaveNotifications") }</button>
            if let Some(text) = (*saved).clone() {
                <p id="notify-status" class="muted" aria-live="polite">{ text }</p>
            }
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct RetentionFormProps {
    initial: Retention,
}

/// How many finished chats the desk keeps.
#[function_component(RetentionForm)]
fn retention_form(props: &RetentionFormProps) -> Html {
    let keep = use_state(|| props.initial.finished_chats.to_string());
    let saved = use_state(|| None::<String>);
    let on_keep = {
        let keep = keep.clone();
        Callback::from(move |e: InputEvent| {
            keep.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_submit = {
        let (keep, saved) = (keep.clone(), saved.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Ok(finished_chats) = keep.trim().parse::<u32>() else {
                return saved.set(Some(t("errorRetentionInvalid")));
            };
            let (keep, saved) = (keep.clone(), saved.clone());
            spawn_local(async move {
                let request = PopupRequest::SaveRetention(Retention { finished_chats });
                let text = match backend::request(request).await {
                    Ok(PopupReply::SettingsSaved(s)) => {
                        // Shown as stored (clamped to the maximum).
                        keep.set(s.retention.finished_chats.to_string());
                        t("statusSaved")
                    }
                    Ok(PopupReply::Refused(r)) | Err(r) => t(&r.message_key),
                    Ok(_) => t("errorInternal"),
                };
                saved.set(Some(text));
            });
        })
    };
    html! {
        <form id="retention-form" class="notify" onsubmit={on_submit}>
            <label for="retention-keep">{ t("labelKeepFinishedChats") }</label>
            <input id="retention-keep" type="number" min="0" max={Retention::MAX_FINISHED_CHATS.to_string()}
                value={(*keep).clone()} oninput={on_keep} />
            <button id="retention-save" type="submit">{ t("buttonSaveRetention") }</button>
            if let Some(text) = (*saved).clone() {
                <p id="retention-status" class="muted" aria-live="polite">{ text }</p>
            }
        </form>
    }
}
