//! The options page: one form (server and agent, notifications, chat history) with one Save,
//! and a diagnostics section for whoever supports the agent.
//!
//! Saving asks for host permission on the server's origin synchronously inside the click
//! (Firefox grants optional host permissions only from a user gesture, before any `await`), but
//! never waits for the answer to save: a prompt the browser could not show leaves the settings
//! saved and the page saying what to do, not "Saving…" for ever.

use std::cell::Cell;
use std::rc::Rc;

use cobrowse_agent::chat::attention::NotifySettings;
use cobrowse_agent::chat::Retention;
use cobrowse_agent::presence::Presence;
use cobrowse_agent::protocol::{PopupRequest, SettingsReply, SettingsSnapshot, PROTOCOL_VERSION};
use cobrowse_agent::settings::{Policy, ServerUrl, Settings};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::backend;
use crate::i18n::{t, t_with};

/// The browser's answer to the host-permission request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Permission {
    Granted,
    Refused,
    /// Not answered yet (the prompt is open, or the browser could not show it).
    Pending,
}

impl Permission {
    fn as_str(self) -> &'static str {
        match self {
            Permission::Granted => "granted",
            Permission::Refused => "refused",
            Permission::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum SaveStatus {
    Idle,
    Saving,
    Saved {
        permission: Permission,
        origin: String,
    },
    Failed(String),
}

/// The page: loads the snapshot once, then shows the form filled from it.
#[function_component(OptionsApp)]
pub fn options_app() -> Html {
    let snapshot = use_state(|| None::<SettingsSnapshot>);
    let failed = use_state(|| None::<String>);
    {
        let (snapshot, failed) = (snapshot.setter(), failed.setter());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match backend::request_as(PopupRequest::GetSnapshot).await {
                    Ok(SettingsReply::Snapshot(s) | SettingsReply::SettingsSaved(s)) => {
                        snapshot.set(Some(s))
                    }
                    Ok(SettingsReply::Refused(r)) | Err(r) => failed.set(Some(t(&r.message_key))),
                    Ok(SettingsReply::Chat(_)) => failed.set(Some(t("errorInternal"))),
                }
            });
        });
    }
    html! {
        <main class="options">
            <h1>{ t("optionsTitle") }</h1>
            if let Some(s) = (*snapshot).clone() {
                <OptionsForm settings={s.settings.clone()} policy={s.policy.clone()}
                    notify={s.notify} retention={s.retention} />
                <Diagnostics snapshot={s} />
            } else if let Some(message) = (*failed).clone() {
                <p id="save-status" class="error" data-state="failed" role="alert">{ message }</p>
            } else {
                <form id="settings-form" data-loaded="false"></form>
            }
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct OptionsFormProps {
    settings: Settings,
    /// The admin's policy (a locked server cannot be changed here).
    policy: Policy,
    notify: NotifySettings,
    retention: Retention,
}

/// Everything the agent sets, checked together before anything is saved.
struct Entered {
    settings: Settings,
    server: ServerUrl,
    notify: NotifySettings,
    retention: Retention,
}

/// Reads the form's fields, or names the first one that is wrong.
fn entered(
    policy: &Policy,
    typed: Settings,
    notify_enabled: bool,
    repeat: &str,
    keep: &str,
) -> Result<Entered, String> {
    let settings = policy.allows(&typed).map_err(|e| t(e.message_key()))?;
    let server = ServerUrl::parse(&settings.server_url).map_err(|_| t("errorUrlInvalid"))?;
    let repeat_seconds = repeat
        .trim()
        .parse()
        .map_err(|_| t("errorNotifyRepeatInvalid"))?;
    let finished_chats = keep
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= Retention::MAX_FINISHED_CHATS)
        .ok_or_else(|| t("errorRetentionInvalid"))?;
    Ok(Entered {
        settings,
        server,
        notify: NotifySettings {
            enabled: notify_enabled,
            repeat_seconds,
        },
        retention: Retention { finished_chats },
    })
}

/// Sends the three saves in turn; what the background stored for retention (clamped).
async fn save(entered: &Entered) -> Result<Retention, String> {
    let requests = [
        PopupRequest::SaveSettings(entered.settings.clone()),
        PopupRequest::SaveNotifySettings(entered.notify),
        PopupRequest::SaveRetention(entered.retention),
    ];
    let mut stored = entered.retention;
    for request in requests {
        match backend::request_as(request).await {
            Ok(SettingsReply::SettingsSaved(s)) => stored = s.retention,
            Ok(SettingsReply::Refused(r)) | Err(r) => return Err(t(&r.message_key)),
            Ok(SettingsReply::Snapshot(_) | SettingsReply::Chat(_)) => {
                return Err(t("errorInternal"))
            }
        }
    }
    Ok(stored)
}

#[function_component(OptionsForm)]
fn options_form(props: &OptionsFormProps) -> Html {
    let server_url = use_state(|| props.settings.server_url.clone());
    let agent_name = use_state(|| props.settings.agent_name.clone());
    let notify_enabled = use_state(|| props.notify.enabled);
    let repeat = use_state(|| props.notify.repeat_seconds.to_string());
    let keep = use_state(|| props.retention.finished_chats.to_string());
    let status = use_state(|| SaveStatus::Idle);
    let on_input = |field: UseStateHandle<String>| {
        Callback::from(move |e: InputEvent| {
            field.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_toggle = {
        let enabled = notify_enabled.clone();
        Callback::from(move |e: Event| {
            enabled.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let locked = props.policy.server_url_locked;
    let on_submit = {
        let policy = props.policy.clone();
        let (server_url, agent_name, notify_enabled, repeat, keep, status) = (
            server_url.clone(),
            agent_name.clone(),
            notify_enabled.clone(),
            repeat.clone(),
            keep.clone(),
            status.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = Settings {
                server_url: (*server_url).clone(),
                agent_name: (*agent_name).clone(),
            };
            let entered = match entered(&policy, typed, *notify_enabled, &repeat, &keep) {
                Ok(entered) => entered,
                Err(message) => return status.set(SaveStatus::Failed(message)),
            };
            // Started now, inside the gesture; its answer may come later, or never.
            let permission =
                webext::permissions::request_origins(&[entered.server.host_permission_pattern()]);
            status.set(SaveStatus::Saving);
            let origin = entered.server.origin();
            let answer: Rc<Cell<Permission>> = Rc::new(Cell::new(Permission::Pending));
            let saved = Rc::new(Cell::new(false));
            {
                let (answer, saved, status, origin) = (
                    answer.clone(),
                    saved.clone(),
                    status.clone(),
                    origin.clone(),
                );
                spawn_local(async move {
                    let granted = match permission.await {
                        Ok(granted) => granted,
                        Err(e) => {
                            webext::log_error(&format!("[cobrowse-agent] {e}"));
                            false
                        }
                    };
                    let permission = if granted {
                        Permission::Granted
                    } else {
                        Permission::Refused
                    };
                    answer.set(permission);
                    if saved.get() {
                        status.set(SaveStatus::Saved { permission, origin });
                    }
                });
            }
            let (keep, status) = (keep.clone(), status.clone());
            spawn_local(async move {
                match save(&entered).await {
                    Ok(stored) => {
                        // Shown as stored (clamped to the maximum).
                        keep.set(stored.finished_chats.to_string());
                        saved.set(true);
                        status.set(SaveStatus::Saved {
                            permission: answer.get(),
                            origin,
                        });
                    }
                    Err(message) => status.set(SaveStatus::Failed(message)),
                }
            });
        })
    };
    let status_view = match &*status {
        SaveStatus::Idle => html! { <p id="save-status" class="muted" aria-live="polite"></p> },
        SaveStatus::Saving => {
            html! { <p id="save-status" class="muted" aria-live="polite">{ t("statusSaving") }</p> }
        }
        SaveStatus::Saved { permission, origin } => {
            let (class, text) = match permission {
                Permission::Granted => ("ok", t("statusSaved")),
                Permission::Refused => ("warning", t_with("statusSavedNoPermission", &[origin])),
                Permission::Pending => {
                    ("warning", t_with("statusSavedPermissionPending", &[origin]))
                }
            };
            html! {
                <p id="save-status" class={class} data-state="saved" data-permission={permission.as_str()}
                    aria-live="polite">{ text }</p>
            }
        }
        SaveStatus::Failed(message) => {
            html! { <p id="save-status" class="error" data-state="failed" role="alert">{ message.clone() }</p> }
        }
    };
    html! {
        <>
            <form id="settings-form" onsubmit={on_submit} data-loaded="true">
                <fieldset>
                    <legend>{ t("sectionConnection") }</legend>
                    <label for="server-url">{ t("labelServerUrl") }</label>
                    <input id="server-url" type="url" required=true autocomplete="url" readonly={locked}
                        aria-describedby={locked.then_some("server-url-locked")}
                        value={ (*server_url).clone() } oninput={ on_input(server_url.clone()) } />
                    if locked {
                        <p id="server-url-locked" class="muted">{ t("serverUrlLockedNote") }</p>
                    }
                    <label for="agent-name">{ t("labelAgentName") }</label>
                    <input id="agent-name" type="text" required=true autocomplete="username"
                        value={ (*agent_name).clone() } oninput={ on_input(agent_name.clone()) } />
                </fieldset>
                <fieldset>
                    <legend>{ t("sectionNotifications") }</legend>
                    <label class="check">
                        <input id="notify-enabled" type="checkbox" checked={*notify_enabled} onchange={on_toggle} />
                        { t("labelNotifications") }
                    </label>
                    <label for="notify-repeat">{ t("labelNotifyRepeat") }</label>
                    <input id="notify-repeat" type="number" min="0" step="30" value={(*repeat).clone()}
                        oninput={ on_input(repeat.clone()) } />
                </fieldset>
                <fieldset>
                    <legend>{ t("sectionHistory") }</legend>
                    <label for="retention-keep">{ t("labelKeepFinishedChats") }</label>
                    <input id="retention-keep" type="number" min="0" max={Retention::MAX_FINISHED_CHATS.to_string()}
                        value={(*keep).clone()} oninput={ on_input(keep.clone()) } />
                </fieldset>
                <button id="save" type="submit" disabled={ *status == SaveStatus::Saving }>{ t("buttonSave") }</button>
            </form>
            { status_view }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct DiagnosticsProps {
    snapshot: SettingsSnapshot,
}

/// What support asks for when something does not work, as it was when the page opened.
#[function_component(Diagnostics)]
fn diagnostics(props: &DiagnosticsProps) -> Html {
    let s = &props.snapshot;
    let now = js_sys::Date::now() as u64;
    let presence = Presence::of(&s.agent, now);
    let connection = match s.agent.transport {
        Some(transport) => format!(
            "{} ({})",
            t(presence.connection.message_key()),
            transport.as_str()
        ),
        None => t(presence.connection.message_key()),
    };
    let time = |ms: u64| -> String {
        js_sys::Date::new(&(ms as f64).into())
            .to_locale_string(&crate::i18n::ui_locale(), &js_sys::Object::new())
            .into()
    };
    html! {
        <section id="diagnostics" class="diagnostics" aria-labelledby="diagnostics-title">
            <h2 id="diagnostics-title">{ t("diagnosticsTitle") }</h2>
            <p class="muted">{ t("diagnosticsIntro") }</p>
            <dl>
                <dt>{ t("labelWorkerStarted") }</dt>
                <dd id="worker-started" data-ms={ s.worker.started_at_ms.to_string() }>{ time(s.worker.started_at_ms) }</dd>
                <dt>{ t("labelSignedIn") }</dt>
                <dd id="diag-signed-in">{ if s.agent.signed_in { t("yes") } else { t("no") } }</dd>
                <dt>{ t("labelConnection") }</dt>
                <dd id="diag-connection" data-state={presence.connection.as_str()}>{ connection }</dd>
                if let Some(problem) = s.agent.problem {
                    <dt>{ t("labelProblem") }</dt>
                    <dd id="diag-problem">{ t(problem.message_key()) }</dd>
                }
                <dt>{ t("labelLastEvent") }</dt>
                <dd id="diag-last-event">{ s.agent.last_event_ms.map(time).unwrap_or_else(|| "—".to_owned()) }</dd>
                <dt>{ t("labelProtocol") }</dt>
                <dd id="diag-protocol">{ PROTOCOL_VERSION.to_string() }</dd>
            </dl>
        </section>
    }
}
