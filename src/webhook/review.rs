//! From an admission request to the webhook's answer, without I/O.
//!
//! The rules are `hostplane validate`'s single-object rules ([`validation::check_one`]),
//! answered with the same field paths and reasons. Reference checks are not made: GitOps
//! tools apply objects in any order, so a service may rightly arrive before its tariff.
//! A Tariff UPDATE also goes through the live-object guard ([`super::guard`]), which needs the
//! namespace's services: [`review`] then hands back a [`TariffEdit`] for the caller to finish.
//!
//! Never in the way of a deletion: DELETE is always admitted, and so is any UPDATE of an
//! object being deleted (finalizer removal) or that leaves `spec` as it is (the controller's
//! finalizer and annotation writes on an object stored before a rule existed).

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube::core::response::{Status, StatusCause, StatusDetails};

use super::guard::{self, ALLOW_BREAKING, Effect};
use crate::api::{HostingService, Tariff};
use crate::validation::{self, FieldProblem, decode::Object};

/// What to answer, or what is still to be looked up.
#[derive(Debug)]
pub enum Verdict {
    /// The answer.
    Answer(AdmissionResponse),
    /// A Tariff edit that passes its own rules; its answer depends on the services sold on it.
    GuardTariff(TariffEdit),
}

/// A Tariff UPDATE waiting for the namespace's services.
#[derive(Debug)]
pub struct TariffEdit {
    pub namespace: String,
    pub name: String,
    response: AdmissionResponse,
    old: Box<Tariff>,
    new: Box<Tariff>,
}

/// The group whose kinds the webhook checks; anything else is admitted unread.
const GROUP: &str = "hostplane.dev";

/// Reviews one request.
pub fn review(request: &AdmissionRequest<DynamicObject>) -> Verdict {
    let response = AdmissionResponse::from(request);
    // Only CREATE and UPDATE of our kinds (not their status) are checked; a registration
    // that sends more (DELETE, Secrets, the status subresource) still never blocks them.
    if !matches!(request.operation, Operation::Create | Operation::Update)
        || request.kind.group != GROUP
        || request.sub_resource.is_some()
    {
        return Verdict::Answer(response);
    }
    let Some(object) = &request.object else {
        return Verdict::Answer(response.deny("the admission request carries no object"));
    };
    if object.metadata.deletion_timestamp.is_some() {
        return Verdict::Answer(response);
    }
    let old = request.old_object.as_ref();
    if old.is_some_and(|old| old.data.get("spec") == object.data.get("spec")) {
        return Verdict::Answer(response);
    }
    let value = match serde_json::to_value(object) {
        Ok(value) => value,
        Err(e) => return Verdict::Answer(response.deny(format!("unreadable object: {e}"))),
    };
    let namespace = request.namespace.clone().unwrap_or_default();
    let one = validation::check_one(&value, &namespace);
    let refused = Refused {
        kind: one.header.kind.as_deref().unwrap_or(&request.kind.kind),
        name: one.header.name.as_deref().unwrap_or(&request.name),
        hint: None,
    };
    if !one.problems.is_empty() {
        return Verdict::Answer(refused.answer(response, &one.problems));
    }
    let title = format!("{}/{}", refused.kind, refused.name);
    let (Some(Object::Tariff(new)), Some(old)) = (one.object, old) else {
        return Verdict::Answer(response);
    };
    match serde_json::to_value(old).and_then(serde_json::from_value::<Tariff>) {
        Ok(old) => Verdict::GuardTariff(TariffEdit {
            namespace,
            name: request.name.clone(),
            response,
            old: Box::new(old),
            new,
        }),
        // Stored before today's rules: nothing to compare with, and no reason to refuse.
        Err(e) => Verdict::Answer(warn(
            response,
            vec![format!(
                "the stored {title} does not decode ({e}); its services were not checked"
            )],
        )),
    }
}

impl TariffEdit {
    /// The answer, given every HostingService of the namespace.
    pub fn decide(self, services: &[HostingService]) -> AdmissionResponse {
        let effects = guard::tariff_edit(&self.name, &self.old.spec, &self.new.spec, services);
        let warnings: Vec<String> = effects.warnings.iter().map(line).collect();
        if effects.breaking.is_empty() {
            return warn(self.response, warnings);
        }
        if self.allows_breaking() {
            let allowed = effects
                .breaking
                .iter()
                .map(|e| format!("{} (admitted by {ALLOW_BREAKING})", line(e)));
            return warn(self.response, allowed.chain(warnings).collect());
        }
        let problems: Vec<FieldProblem> = effects
            .breaking
            .into_iter()
            .map(|e| FieldProblem::at(e.field, e.reason))
            .collect();
        let refused = self.refuse("to apply it anyway, annotate the Tariff", &problems);
        warn(refused, warnings)
    }

    /// The answer when the services could not be listed: refused, since the edit might
    /// strand them, unless the escape hatch is set.
    pub fn unchecked(self, error: &str) -> AdmissionResponse {
        let reason = format!(
            "the HostingServices of namespace {} could not be listed to check this edit: {error}",
            self.namespace
        );
        if self.allows_breaking() {
            return warn(self.response, vec![reason]);
        }
        // At `spec`: the edit as a whole could not be checked.
        let problem = FieldProblem::at("spec", reason);
        self.refuse("retry, or annotate the Tariff", &[problem])
    }

    /// Refuses this edit for `problems`, naming the escape hatch after `advice`.
    fn refuse(self, advice: &str, problems: &[FieldProblem]) -> AdmissionResponse {
        let refused = Refused {
            kind: "Tariff",
            name: &self.name,
            hint: Some(format!("{advice} {ALLOW_BREAKING}: \"true\"")),
        };
        refused.answer(self.response, problems)
    }

    fn allows_breaking(&self) -> bool {
        self.new
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ALLOW_BREAKING))
            .is_some_and(|v| v == "true")
    }
}

/// `field: reason`, as `hostplane validate` prints a problem after the object's name.
fn line(effect: &Effect) -> String {
    format!("{}: {}", effect.field, effect.reason)
}

/// A refusal of one object, and what to do about it.
struct Refused<'a> {
    kind: &'a str,
    name: &'a str,
    hint: Option<String>,
}

impl Refused<'_> {
    /// Refuses with every problem in the message (`Kind/name: field: reason; ...`, what API
    /// clients and GitOps tools show) and in `status.details.causes`, from which `kubectl`
    /// prints `The Kind "name" is invalid: field: reason` as for the CRD schema's refusals.
    /// A hint goes to the end of the message and, for kubectl, into a cause of its own.
    fn answer(&self, response: AdmissionResponse, problems: &[FieldProblem]) -> AdmissionResponse {
        let listed: Vec<String> = problems
            .iter()
            .map(|p| match &p.field {
                Some(field) => format!("{field}: {}", p.reason),
                None => p.reason.clone(),
            })
            .collect();
        let mut message = format!("{}/{}: {}", self.kind, self.name, listed.join("; "));
        let mut causes: Vec<StatusCause> = problems
            .iter()
            .map(|p| StatusCause {
                reason: "FieldValueInvalid".into(),
                message: p.reason.clone(),
                field: p.field.clone().unwrap_or_default(),
            })
            .collect();
        if let Some(hint) = &self.hint {
            message.push_str(&format!(" ({hint})"));
            causes.push(StatusCause {
                reason: "FieldValueInvalid".into(),
                message: hint.clone(),
                field: "metadata.annotations".into(),
            });
        }
        let mut response = response;
        response.allowed = false;
        response.result = Status::failure(&message, "Invalid")
            .with_code(422)
            .with_details(StatusDetails {
                name: self.name.to_owned(),
                group: GROUP.into(),
                kind: self.kind.to_owned(),
                uid: String::new(),
                causes,
                retry_after_seconds: 0,
            });
        response
    }
}

fn warn(mut response: AdmissionResponse, warnings: Vec<String>) -> AdmissionResponse {
    if !warnings.is_empty() {
        response
            .warnings
            .get_or_insert_with(Vec::new)
            .extend(warnings);
    }
    response
}
