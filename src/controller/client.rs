//! The Client reconciler: judges the client and counts its services. A client's suspension
//! reaches the panels through its services.

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::conditions::{self, Verdict};
use super::context::Context;
use super::{Error, judge, observe_annotations};
use crate::api::Client;
use crate::controller::reason::Reason;

pub async fn reconcile(client: Arc<Client>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = client.namespace().unwrap_or_default();
    let name = client.name_any();
    let problems = judge::problems(&*client, Vec::new());
    let verdict = if problems.is_empty() {
        let message = if client.spec.suspended {
            "suspended: all services are suspended"
        } else {
            ""
        };
        Verdict::Ready {
            reason: Reason::Available,
            message: message.into(),
        }
    } else {
        Verdict::Stalled {
            reason: Reason::InvalidSpec,
            message: problems.join("; "),
        }
    };
    let mut status = client.status.clone().unwrap_or_default();
    conditions::apply(
        &mut status.common,
        &verdict,
        client.metadata.generation,
        &ctx.timestamp(),
    );
    observe_annotations(&client.metadata, &mut status.common);
    crate::controller::metrics::judged("Client", &verdict);
    let services = ctx
        .services
        .state()
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(&ns) && s.spec.client_ref.name == name)
        .count();
    status.services = Some(services as u32);

    let api: Api<Client> = Api::namespaced(ctx.client.clone(), &ns);
    if super::status::write(&api, &name, client.status.as_ref(), &status).await? {
        super::announce(
            &ctx,
            &*client,
            client.status.as_ref().map(|s| &s.common),
            &verdict,
        )
        .await;
    }
    Ok(Action::await_change())
}
