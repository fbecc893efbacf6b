//! The engine's sessions, by client id and by principal: what one principal has (its
//! sessions, the messages kept for it) is found without looking at anyone else's, so handling
//! one agent's notification costs the same with ten agents connected or ten thousand.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use serde_json::Value;

use super::Session;

pub(super) struct Sessions<P> {
    by_id: HashMap<String, Session<P>>,
    by_principal: HashMap<P, Vec<String>>,
}

impl<P> Sessions<P> {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

impl<P: Clone + Eq + Hash> Sessions<P> {
    pub fn new() -> Self {
        Sessions {
            by_id: HashMap::new(),
            by_principal: HashMap::new(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Session<P>> {
        self.by_id.get(id)
    }

    /// A session to change; its `principal` stays as it is (the index is keyed by it).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Session<P>> {
        self.by_id.get_mut(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Session<P>)> {
        self.by_id.iter()
    }

    /// Every session, to change (not its `principal`).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Session<P>)> {
        self.by_id.iter_mut()
    }

    pub fn insert(&mut self, id: String, session: Session<P>) {
        self.by_principal
            .entry(session.principal.clone())
            .or_default()
            .push(id.clone());
        if let Some(old) = self.by_id.insert(id.clone(), session) {
            self.unindex(&old.principal, &id);
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<Session<P>> {
        let session = self.by_id.remove(id)?;
        self.unindex(&session.principal, id);
        Some(session)
    }

    /// The ids of `principal`'s sessions, oldest first.
    pub fn of(&self, principal: &P) -> &[String] {
        self.by_principal
            .get(principal)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn unindex(&mut self, principal: &P, id: &str) {
        if let Some(ids) = self.by_principal.get_mut(principal) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_principal.remove(principal);
            }
        }
    }
}

/// A message for a principal that had no subscribed session when it was sent.
#[derive(Debug)]
pub(super) struct Retained {
    pub channel: String,
    pub data: Value,
    pub until_ms: u64,
}

/// Messages kept for principals between sessions, by principal.
pub(super) struct RetainedByPrincipal<P> {
    by_principal: HashMap<P, VecDeque<Retained>>,
    total: usize,
}

impl<P: Clone + Eq + Hash> RetainedByPrincipal<P> {
    pub fn new() -> Self {
        RetainedByPrincipal {
            by_principal: HashMap::new(),
            total: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Keeps `r` for `principal`, dropping its oldest when it already has `max`.
    pub fn push(&mut self, principal: &P, r: Retained, max: usize) {
        let kept = self.by_principal.entry(principal.clone()).or_default();
        while kept.len() >= max.max(1) {
            kept.pop_front();
            self.total -= 1;
        }
        kept.push_back(r);
        self.total += 1;
    }

    /// Takes out, in order, what `principal` has kept that `wanted` accepts.
    pub fn take(&mut self, principal: &P, wanted: impl Fn(&Retained) -> bool) -> Vec<Retained> {
        let Some(kept) = self.by_principal.get_mut(principal) else {
            return Vec::new();
        };
        let (taken, rest): (VecDeque<Retained>, VecDeque<Retained>) =
            kept.drain(..).partition(|r| wanted(r));
        self.total -= taken.len();
        if rest.is_empty() {
            self.by_principal.remove(principal);
        } else {
            *kept = rest;
        }
        taken.into()
    }

    pub fn forget(&mut self, principal: &P) {
        if let Some(kept) = self.by_principal.remove(principal) {
            self.total -= kept.len();
        }
    }

    /// Drops what expired before `now_ms` (the periodic sweep: it may look at everything).
    pub fn expire(&mut self, now_ms: u64) {
        let mut total = 0;
        self.by_principal.retain(|_, kept| {
            kept.retain(|r| r.until_ms >= now_ms);
            total += kept.len();
            !kept.is_empty()
        });
        self.total = total;
    }
}
