//! The driver's rules, against a fake product and an in-memory ledger: no API server, no
//! panel. Each test names the rule it holds and counts the calls that rule allows.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use futures::executor::block_on;

use super::*;

/// A panel with at most one resource under the name, and scripted answers to `create`.
#[derive(Default)]
struct FakeProduct {
    /// What the panel holds.
    state: Mutex<Found<&'static str>>,
    /// Answers to the next create calls; `Ok` makes the resource. Empty: `Ok`.
    create_answers: Mutex<VecDeque<CreateAnswer>>,
    calls: Mutex<Vec<&'static str>>,
}

/// How the fake panel answers one create.
enum CreateAnswer {
    Made,
    /// Applied, answer lost.
    AppliedLost,
    /// Not applied, answer lost.
    Lost,
    Refused,
    /// Someone else made it just before.
    ExistsByStranger,
}

impl FakeProduct {
    fn holding(state: Found<&'static str>) -> Self {
        let fake = Self::default();
        *fake.state.lock().unwrap() = state;
        fake
    }

    fn answering(answers: impl IntoIterator<Item = CreateAnswer>) -> Self {
        let fake = Self::default();
        fake.create_answers.lock().unwrap().extend(answers);
        fake
    }

    fn count(&self, call: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == call)
            .count()
    }
}

fn lost() -> PanelError {
    PanelError::OutcomeUnknown {
        operation: "create".into(),
        cause: "timeout".into(),
    }
}

/// The fake as a product handle, borrowed (as a real product borrows its panel client).
struct Shared<'a>(&'a FakeProduct);

impl External for Shared<'_> {
    type Observed = &'static str;
    type Create = ();
    fn kind(&self) -> &'static str {
        "fake account"
    }
    fn name(&self) -> &str {
        "user1"
    }
    fn exists_reason(&self) -> Reason {
        Reason::AccountExists
    }
    async fn observe(&self) -> Result<Found<&'static str>, PanelError> {
        self.0.calls.lock().unwrap().push("observe");
        Ok(self.0.state.lock().unwrap().clone())
    }
    async fn create(&self, _: &()) -> Result<(), PanelError> {
        self.0.calls.lock().unwrap().push("create");
        let answer = self
            .0
            .create_answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(CreateAnswer::Made);
        let mut state = self.0.state.lock().unwrap();
        match answer {
            CreateAnswer::Made => {
                *state = Found::Present("made");
                Ok(())
            }
            CreateAnswer::AppliedLost => {
                *state = Found::Present("made");
                Err(lost())
            }
            CreateAnswer::Lost => Err(lost()),
            CreateAnswer::Refused => Err(PanelError::Value {
                object: "preset".into(),
                message: "no such template".into(),
            }),
            CreateAnswer::ExistsByStranger => {
                *state = Found::Present("stranger's");
                Err(PanelError::Exists {
                    object: "user".into(),
                    message: String::new(),
                })
            }
        }
    }
}

impl Removable for Shared<'_> {
    async fn delete(&self) -> Result<bool, PanelError> {
        self.0.calls.lock().unwrap().push("delete");
        let mut state = self.0.state.lock().unwrap();
        let was = matches!(*state, Found::Present(_));
        *state = Found::Absent;
        Ok(was)
    }
}

/// The cluster side, in memory: what a claim writes, as the next reconcile would read it.
#[derive(Default)]
struct FakeLedger {
    claimed: bool,
    finalizer: bool,
    pending: bool,
    /// Another service holds the name: the guarded claim patch is refused.
    taken_by: Option<String>,
    writes: Vec<&'static str>,
}

impl Ledger for FakeLedger {
    async fn claim(&mut self, attempt: bool) -> Result<Result<(), String>, Error> {
        if let Some(other) = &self.taken_by {
            return Ok(Err(format!("claimed by {other}")));
        }
        self.writes.push("claim");
        self.claimed = true;
        self.finalizer = true;
        self.pending = attempt;
        Ok(Ok(()))
    }
    async fn attempt(&mut self) -> Result<(), Error> {
        self.writes.push("attempt");
        self.pending = true;
        Ok(())
    }
    async fn settle(&mut self) -> Result<(), Error> {
        self.writes.push("settle");
        self.pending = false;
        Ok(())
    }
    async fn withdraw(&mut self) -> Result<(), Error> {
        self.writes.push("withdraw");
        self.claimed = false;
        self.finalizer = false;
        self.pending = false;
        Ok(())
    }
    async fn keep_finalizer(&mut self) -> Result<(), Error> {
        if !self.finalizer {
            self.writes.push("finalizer");
            self.finalizer = true;
        }
        Ok(())
    }
}

fn t(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn record(provenance: Provenance) -> Record {
    Record {
        policy: ManagementPolicy::Full,
        deletion: DeletionPolicy::Delete,
        provenance,
        converged: false,
        conflict: None,
        pending_since: None,
        quiet: Duration::from_secs(180),
        now: t(0),
        claimed_in_this_pass: false,
    }
}

/// The record the next reconcile reads after `ledger`'s writes, at `now`.
fn reread(ledger: &FakeLedger, now: jiff::Timestamp, pending_since: jiff::Timestamp) -> Record {
    Record {
        provenance: if ledger.claimed {
            Provenance::Claimed
        } else {
            Provenance::Unrecorded
        },
        pending_since: ledger.pending.then_some(pending_since),
        now,
        ..record(Provenance::Unrecorded)
    }
}

/// One reconcile of the create path: observe, then create when missing.
fn pass(record: &Record, ledger: &mut FakeLedger, fake: &FakeProduct) -> Result<String, Reason> {
    let external = Shared(fake);
    block_on(async {
        match observe(record, ledger, &external).await.unwrap() {
            Err(outcome) => Err(outcome.verdict.reason()),
            Ok(Seen::Observe(o)) => Ok(format!("observed {o}")),
            Ok(Seen::Manage(o)) => Ok(format!("manage {o}")),
            Ok(Seen::Missing) => match create(record, ledger, &external, &()).await.unwrap() {
                Ok(Created::Made) => Ok("made".into()),
                Ok(Created::Found(_)) => Ok("found".into()),
                Err(outcome) => Err(outcome.verdict.reason()),
            },
        }
    })
}

#[test]
fn a_create_is_sent_only_after_the_claim_is_written() {
    let fake = FakeProduct::default();
    let mut ledger = FakeLedger::default();
    assert_eq!(
        pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
        Ok("made".into())
    );
    assert_eq!(ledger.writes, ["claim"]);
    assert!(ledger.claimed && ledger.finalizer && ledger.pending);
    assert_eq!(fake.count("create"), 1);
}

#[test]
fn a_name_another_service_claimed_writes_nothing_and_calls_nothing() {
    let fake = FakeProduct::default();
    let mut ledger = FakeLedger::default();
    let mut rec = record(Provenance::Unrecorded);
    rec.conflict = Some("claimed by ns/shop-1".into());
    assert_eq!(pass(&rec, &mut ledger, &fake), Err(Reason::NameConflict));
    assert!(ledger.writes.is_empty());
    assert_eq!(fake.count("create"), 0);

    // The same when the conflict shows only at the guarded claim patch (the other claim was
    // not in the cache yet).
    let mut ledger = FakeLedger {
        taken_by: Some("ns/shop-1".into()),
        ..FakeLedger::default()
    };
    assert_eq!(
        pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
        Err(Reason::NameConflict)
    );
    assert!(ledger.writes.is_empty() && !ledger.finalizer);
    assert_eq!(fake.count("create"), 0);
}

#[test]
fn a_strangers_resource_is_never_adopted_and_nothing_is_written() {
    for found in [Found::Present("stranger's"), Found::Foreign] {
        let fake = FakeProduct::holding(found);
        let mut ledger = FakeLedger::default();
        assert_eq!(
            pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
            Err(Reason::AccountExists)
        );
        assert!(ledger.writes.is_empty());
        assert_eq!(fake.count("create"), 0);
    }
    // Even a claimed service never manages a resource that carries someone else's marker.
    let fake = FakeProduct::holding(Found::Foreign);
    let mut ledger = FakeLedger {
        claimed: true,
        finalizer: true,
        ..FakeLedger::default()
    };
    assert_eq!(
        pass(&record(Provenance::Claimed), &mut ledger, &fake),
        Err(Reason::AccountExists)
    );
}

#[test]
fn a_resource_handed_over_by_a_person_is_managed_and_gets_the_finalizer() {
    let fake = FakeProduct::holding(Found::Present("existing"));
    let mut ledger = FakeLedger::default();
    assert_eq!(
        pass(&record(Provenance::HandedOver), &mut ledger, &fake),
        Ok("manage existing".into())
    );
    assert_eq!(ledger.writes, ["finalizer"]);
}

#[test]
fn a_create_answered_exists_after_a_fresh_claim_withdraws_the_claim() {
    let fake = FakeProduct::answering([CreateAnswer::ExistsByStranger]);
    let mut ledger = FakeLedger::default();
    assert_eq!(
        pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
        Err(Reason::AccountExists)
    );
    assert_eq!(ledger.writes, ["claim", "withdraw"]);
    assert!(!ledger.claimed && !ledger.finalizer);
}

#[test]
fn a_lost_answer_after_the_panel_applied_the_create_is_found_not_repeated() {
    let fake = FakeProduct::answering([CreateAnswer::AppliedLost]);
    let mut ledger = FakeLedger::default();
    assert_eq!(
        pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
        Ok("found".into())
    );
    assert_eq!(fake.count("create"), 1);
    // The next reconcile manages it.
    let next = reread(&ledger, t(1), t(0));
    assert_eq!(pass(&next, &mut ledger, &fake), Ok("manage made".into()));
    assert_eq!(fake.count("create"), 1);
}

#[test]
fn a_lost_answer_is_sent_again_only_after_the_quiet_period() {
    let fake = FakeProduct::answering([CreateAnswer::Lost]);
    let mut ledger = FakeLedger::default();
    assert_eq!(
        pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
        Err(Reason::OutcomeUnknown)
    );
    // Reconciles during the quiet period look, and do not send.
    for seconds in [1, 60, 179] {
        let next = reread(&ledger, t(seconds), t(0));
        assert_eq!(pass(&next, &mut ledger, &fake), Err(Reason::OutcomeUnknown));
    }
    assert_eq!(fake.count("create"), 1);
    // Past it, the attempt is recorded and the create sent once more.
    let next = reread(&ledger, t(181), t(0));
    assert_eq!(pass(&next, &mut ledger, &fake), Ok("made".into()));
    assert_eq!(fake.count("create"), 2);
    assert_eq!(ledger.writes, ["claim", "attempt"]);
}

#[test]
fn a_refused_create_settles_the_attempt_and_is_retried_without_waiting() {
    let fake = FakeProduct::answering([CreateAnswer::Refused]);
    let mut ledger = FakeLedger::default();
    assert_eq!(
        pass(&record(Provenance::Unrecorded), &mut ledger, &fake),
        Err(Reason::PanelError)
    );
    assert!(!ledger.pending);
    let next = reread(&ledger, t(1), t(0));
    assert_eq!(pass(&next, &mut ledger, &fake), Ok("made".into()));
    assert_eq!(ledger.writes, ["claim", "settle", "attempt"]);
}

#[test]
fn observe_only_calls_nothing_but_observe_and_writes_nothing() {
    for state in [Found::Present("theirs"), Found::Absent] {
        let fake = FakeProduct::holding(state.clone());
        let mut ledger = FakeLedger::default();
        let mut rec = record(Provenance::Unrecorded);
        rec.policy = ManagementPolicy::ObserveOnly;
        let result = pass(&rec, &mut ledger, &fake);
        match state {
            Found::Present(_) => assert_eq!(result, Ok("observed theirs".into())),
            _ => assert_eq!(result, Err(Reason::ExternalNotFound)),
        }
        assert_eq!(*fake.calls.lock().unwrap(), ["observe"]);
        assert!(ledger.writes.is_empty());
    }
}

fn removal(rec: &Record, why: Removal, name: Option<&str>, fake: &FakeProduct) -> Removed {
    block_on(remove(rec, why, name, async || Ok(Shared(fake)))).unwrap()
}

#[test]
fn removal_follows_the_policies_at_deletion_and_at_termination() {
    let mut rec = record(Provenance::Claimed);
    // Nothing recorded: the panel is not even contacted.
    let fake = FakeProduct::holding(Found::Present("x"));
    assert_eq!(
        removal(&rec, Removal::Deleted, None, &fake),
        Removed::NothingRecorded
    );
    assert!(fake.calls.lock().unwrap().is_empty());
    // Orphan keeps it when the service is deleted and when it is terminated.
    rec.deletion = DeletionPolicy::Orphan;
    for why in [Removal::Deleted, Removal::Terminated] {
        assert_eq!(removal(&rec, why, Some("user1"), &fake), Removed::Kept);
    }
    assert!(fake.calls.lock().unwrap().is_empty());
    // ... but a resource no longer needed by a live service goes.
    assert_eq!(
        removal(&rec, Removal::Unneeded, Some("user1"), &fake),
        Removed::Deleted
    );
    // ObserveOnly never deletes.
    rec.deletion = DeletionPolicy::Delete;
    rec.policy = ManagementPolicy::ObserveOnly;
    let fake = FakeProduct::holding(Found::Present("x"));
    for why in [Removal::Deleted, Removal::Terminated, Removal::Unneeded] {
        assert_eq!(removal(&rec, why, Some("user1"), &fake), Removed::Kept);
    }
    assert!(fake.calls.lock().unwrap().is_empty());
    // Full + Delete: deleted once; gone already counts as done.
    rec.policy = ManagementPolicy::Full;
    assert_eq!(
        removal(&rec, Removal::Deleted, Some("user1"), &fake),
        Removed::Deleted
    );
    assert_eq!(
        removal(&rec, Removal::Deleted, Some("user1"), &fake),
        Removed::AlreadyGone
    );
}

#[test]
fn a_panel_that_cannot_be_reached_fails_the_removal_for_a_retry() {
    let rec = record(Provenance::Claimed);
    let result = block_on(remove::<Shared<'_>>(
        &rec,
        Removal::Deleted,
        Some("user1"),
        async || Err("processing module m: connection refused".into()),
    ));
    assert!(result.unwrap_err().contains("connection refused"));
}

/// A product that claims before it may still wait (a queue, the server pool), then creates in
/// the same pass: the create records its attempt under that claim, never claims again (the
/// guarded patch would be refused as the object changed), and an `Exists` still withdraws.
fn claim_then_create(ledger: &mut FakeLedger, fake: &FakeProduct) -> Result<String, Reason> {
    let rec = record(Provenance::Unrecorded);
    let external = Shared(fake);
    block_on(async {
        assert!(matches!(
            observe(&rec, ledger, &external).await.unwrap(),
            Ok(Seen::Missing)
        ));
        assert!(claim(&rec, ledger).await.unwrap().is_none());
        match create(&rec.after_claim(), ledger, &external, &())
            .await
            .unwrap()
        {
            Ok(Created::Made) => Ok("made".into()),
            Ok(Created::Found(_)) => Ok("found".into()),
            Err(outcome) => Err(outcome.verdict.reason()),
        }
    })
}

#[test]
fn a_claim_made_earlier_in_the_pass_is_not_written_again_by_the_create() {
    let fake = FakeProduct::default();
    let mut ledger = FakeLedger::default();
    assert_eq!(claim_then_create(&mut ledger, &fake), Ok("made".into()));
    assert_eq!(ledger.writes, ["claim", "attempt"]);
    assert!(ledger.claimed && ledger.pending);
    assert_eq!(fake.count("create"), 1);

    let stranger = FakeProduct::answering([CreateAnswer::ExistsByStranger]);
    let mut ledger = FakeLedger::default();
    assert_eq!(
        claim_then_create(&mut ledger, &stranger),
        Err(Reason::AccountExists)
    );
    assert_eq!(ledger.writes, ["claim", "attempt", "withdraw"]);
    assert!(!ledger.claimed && !ledger.finalizer);
}
