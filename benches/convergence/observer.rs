//! What the controller logs: warnings, and kube-runtime's "reconciling object" spans.

use super::*;

/// Counts the controller's warnings (keeping the first few) and its reconciles by kind and
/// reason, from kube-runtime's `reconciling object` span (one per reconcile).
#[derive(Clone, Default)]
pub(super) struct Observer {
    pub(super) warnings: Arc<AtomicU64>,
    pub(super) first: Arc<Mutex<Vec<String>>>,
    pub(super) reconciles: Arc<Mutex<Calls>>,
    /// Time spent inside reconciles (polling their futures), by the same keys, in µs.
    pub(super) busy: Arc<Mutex<Calls>>,
    /// Time from the start to the end of reconciles (awaits included), in µs.
    pub(super) wall: Arc<Mutex<Calls>>,
}

/// Kept in a reconcile span's extensions: its key and the time spent in it so far.
pub(super) struct Timing {
    pub(super) key: String,
    pub(super) opened: Instant,
    pub(super) busy: Duration,
    pub(super) entered: Option<Instant>,
}

pub(super) const KEEP_WARNINGS: usize = 5;

pub(super) struct Fields(pub(super) String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?} ");
        } else {
            let _ = write!(self.0, "{}={value:?} ", field.name());
        }
    }
}

#[derive(Default)]
pub(super) struct SpanFields {
    pub(super) object: String,
    pub(super) reason: String,
}

impl tracing::field::Visit for SpanFields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "object.ref" => self.object = format!("{value:?}"),
            "object.reason" => self.reason = format!("{value:?}"),
            _ => {}
        }
    }
}

/// The kind of an `ObjectRef` as displayed (`Kind.version.group/name.namespace`).
pub(super) fn kind_of(object_ref: &str) -> &str {
    object_ref.split(['.', '/']).next().unwrap_or(object_ref)
}

impl<S> tracing_subscriber::Layer<S> for Observer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "reconciling object" {
            return;
        }
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        let reason = match fields.reason.strip_prefix("related object updated: ") {
            Some(related) => format!("{} changed", kind_of(related)),
            None => fields.reason,
        };
        let key = format!("{} ({reason})", kind_of(&fields.object));
        *self
            .reconciles
            .lock()
            .expect("reconciles lock")
            .entry(key.clone())
            .or_default() += 1;
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Timing {
                key,
                opened: Instant::now(),
                busy: Duration::ZERO,
                entered: None,
            });
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<Timing>()
        {
            timing.entered = Some(Instant::now());
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<Timing>()
            && let Some(entered) = timing.entered.take()
        {
            timing.busy += entered.elapsed();
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(timing) = span.extensions_mut().remove::<Timing>()
        {
            *self
                .wall
                .lock()
                .expect("wall lock")
                .entry(timing.key.clone())
                .or_default() += timing.opened.elapsed().as_micros() as u64;
            *self
                .busy
                .lock()
                .expect("busy lock")
                .entry(timing.key)
                .or_default() += timing.busy.as_micros() as u64;
        }
    }

    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if *event.metadata().level() > tracing::Level::WARN {
            return;
        }
        self.warnings.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().expect("warnings lock");
        if first.len() < KEEP_WARNINGS {
            let mut fields = Fields(format!(
                "{} {}: ",
                event.metadata().level(),
                event.metadata().target()
            ));
            event.record(&mut fields);
            first.push(fields.0.trim_end().to_owned());
        }
    }
}

impl Observer {
    pub(super) fn install() -> Observer {
        let observer = Observer::default();
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
        // Only hostplane's warnings (kube's client warns about the test bed's self-signed
        // certificate on every connection) and kube-runtime's reconcile spans.
        let observed = tracing_subscriber::filter::Targets::new()
            .with_target("hostplane", tracing::Level::WARN)
            .with_target("kube_runtime::controller", tracing::Level::INFO);
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .with(observer.clone().with_filter(observed))
            .init();
        observer
    }

    pub(super) fn warnings(&self) -> u64 {
        self.warnings.load(Ordering::Relaxed)
    }

    pub(super) fn first_warnings(&self) -> Vec<String> {
        self.first.lock().expect("warnings lock").clone()
    }

    pub(super) fn reconciles(&self) -> Calls {
        self.reconciles.lock().expect("reconciles lock").clone()
    }

    pub(super) fn busy(&self) -> Calls {
        self.busy.lock().expect("busy lock").clone()
    }

    pub(super) fn wall(&self) -> Calls {
        self.wall.lock().expect("wall lock").clone()
    }
}
