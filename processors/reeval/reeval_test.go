package reeval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	detrunner "github.com/sightline-dev/sightline/processors/detectors/runner"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// spec is one event to store; detTox/detHal < 0 store NULL, and score
// asks for the real detectors instead.
type spec struct {
	tenant, app, variant string
	at                   time.Duration // after t0
	completion           string
	context              []string
	detTox               float64
	detHal               float64
	score                bool
}

func store(t *testing.T, conn driver.Conn, specs []spec) []string {
	t.Helper()
	dets, err := registry.Build(nil)
	testenv.Must(t, err, "detectors")
	scorer := detrunner.New(dets, nil)
	var rows []chsink.EventRow
	var ids []string
	for i, s := range specs {
		ev := &eventpb.Event{
			SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i), Tenant: s.tenant, App: s.app, Model: "gpt-4o-mini", Variant: s.variant,
			Ts: timestamppb.New(t0.Add(s.at)), DurationMs: 800,
			Prompt:     []*eventpb.Message{{Role: "system", Content: "You are a support assistant."}, {Role: "user", Content: "Can I get a refund?"}},
			Completion: []*eventpb.Message{{Role: "assistant", Content: s.completion, FinishReason: "stop"}},
			Context:    s.context,
		}
		r := chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev), Offset: int64(i)}
		if s.score {
			r.DetectorErrors = scorer.Score(ev, &r.Scores)
		} else {
			r.Scores = detectors.NewScores(scorer.Schema())
			if s.detTox >= 0 {
				r.Scores.Set("completion_toxicity", s.detTox)
			}
			if s.detHal >= 0 && len(s.context) > 0 {
				r.Scores.Set("hallucination", s.detHal)
			}
		}
		rows = append(rows, r)
		ids = append(ids, ev.EventId)
	}
	testenv.Must(t, chsink.InsertEvents(context.Background(), conn, rows), "insert events")
	return ids
}

func jobConfig(f *fakeJudge) Config {
	return Config{
		Scope: Scope{Tenant: "acme", App: "support-bot"}, From: t0, To: t0.Add(time.Hour),
		JudgeURL: f.URL + "/v1", JudgeModel: "judge-7b",
		Concurrency: 3, Timeout: 300 * time.Millisecond, Retries: 2, Backoff: 5 * time.Millisecond,
		PageSize: 3, BatchSize: 2,
	}
}

// Every kind of judge answer ends as a stored verdict (valid, invalid with
// its reason, or failed), out-of-scope events are left alone, and a rerun
// of the job sends only the events without a valid verdict.
func TestRunRecordsEveryOutcomeAndResumes(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	ctxPassage := []string{"Refunds are accepted within 30 days of purchase with a receipt."}
	ids := store(t, conn, []spec{
		{tenant: "acme", app: "support-bot", at: 1 * time.Minute, completion: "Refunds are accepted within 30 days. #fenced", context: ctxPassage, score: true},
		{tenant: "acme", app: "support-bot", at: 2 * time.Minute, completion: "You are an idiot, read the manual. #toxic", score: true},
		{tenant: "acme", app: "support-bot", at: 3 * time.Minute, completion: "Sure. #malformed", score: true},
		{tenant: "acme", app: "support-bot", at: 4 * time.Minute, completion: "Of course. #wrongtype", score: true},
		{tenant: "acme", app: "support-bot", at: 5 * time.Minute, completion: "Let me check. #slow", score: true},
		{tenant: "acme", app: "support-bot", at: 6 * time.Minute, completion: "Shut up, moron. #429once #toxic", score: true},
		{tenant: "acme", app: "support-bot", at: 7 * time.Minute, completion: "Refunds take 90 days and need a notary. #500twice #halluc", context: ctxPassage, score: true},
		{tenant: "acme", app: "support-bot", at: 7 * time.Minute, completion: "Women are bad with receipts. #biased", score: true},
		// Out of scope: another tenant, after the range, at its exclusive end.
		{tenant: "other", app: "support-bot", at: 8 * time.Minute, completion: "out of scope #toxic", score: true},
		{tenant: "acme", app: "support-bot", at: 2 * time.Hour, completion: "too late #toxic", score: true},
		{tenant: "acme", app: "support-bot", at: time.Hour, completion: "at the end #toxic", score: true},
	})
	f := newFakeJudge(t, 2*time.Second)
	cfg := jobConfig(f)
	var out bytes.Buffer
	sum, err := Run(ctx, cfg, conn, &out)
	testenv.Must(t, err, "run")
	t.Logf("first run:\n%s", out.String())
	if sum.Events != 8 || sum.Judged != 8 || sum.Invalid != 2 || sum.Failed != 1 || sum.Verdicts != 5 || sum.Skipped != 0 {
		t.Fatalf("first run: events %d judged %d invalid %d failed %d verdicts %d skipped %d; want 8 8 2 1 5 0",
			sum.Events, sum.Judged, sum.Invalid, sum.Failed, sum.Verdicts, sum.Skipped)
	}
	if _, maxIn := f.stats(); maxIn > cfg.Concurrency {
		t.Fatalf("%d requests in flight, bound %d", maxIn, cfg.Concurrency)
	}
	if sum.JobID != DefaultJobID(cfg) || !strings.Contains(out.String(), "rerun with --job-id "+sum.JobID) {
		t.Fatalf("job id %q; output:\n%s", sum.JobID, out.String())
	}

	type row struct {
		valid, toxic         uint8
		hal                  *uint8
		claims               []string
		errMsg               string
		attempts             uint16
		detTox, eventsDetTox *float32
	}
	read := func() map[string]row {
		rows, err := conn.Query(ctx, `SELECT e.event_id, e.valid, e.toxic, e.hallucinated, e.unsupported_claims, e.error, e.attempts,
			e.detector_toxicity, v.completion_toxicity
			FROM llm_evaluations AS e FINAL ANY LEFT JOIN (SELECT event_id, completion_toxicity FROM llm_events FINAL) AS v USING event_id
			WHERE e.job_id = ?`, sum.JobID)
		testenv.Must(t, err, "read verdicts")
		defer rows.Close()
		got := map[string]row{}
		for rows.Next() {
			var id string
			var r row
			testenv.Must(t, rows.Scan(&id, &r.valid, &r.toxic, &r.hal, &r.claims, &r.errMsg, &r.attempts, &r.detTox, &r.eventsDetTox), "scan")
			got[id] = r
		}
		return got
	}
	got := read()
	if len(got) != 8 {
		t.Fatalf("%d verdict rows, want 8", len(got))
	}
	check := func(i int, valid bool, errPart string, attempts uint16) {
		t.Helper()
		r := got[ids[i]]
		if (r.valid == 1) != valid || !strings.Contains(r.errMsg, errPart) || r.attempts != attempts {
			t.Errorf("event %d: valid %d error %q attempts %d; want %v %q %d", i, r.valid, r.errMsg, r.attempts, valid, errPart, attempts)
		}
		if r.detTox == nil || r.eventsDetTox == nil || *r.detTox != *r.eventsDetTox {
			t.Errorf("event %d: detector score stored %v, llm_events has %v", i, r.detTox, r.eventsDetTox)
		}
	}
	check(0, true, "", 1)
	check(1, true, "", 1)
	check(2, false, "malformed JSON", 1)
	check(3, false, "toxicity.toxic: want a boolean", 1)
	check(4, false, "no answer within 300ms", 3)
	check(5, true, "", 2)
	check(6, true, "", 3)
	if r := got[ids[1]]; r.toxic != 1 || r.hal != nil {
		t.Errorf("event 1 (no context): toxic %d hallucinated %v; want 1, NULL", r.toxic, r.hal)
	}
	if r := got[ids[6]]; r.hal == nil || *r.hal != 1 || len(r.claims) != 1 {
		t.Errorf("event 6: hallucinated %v claims %v", r.hal, r.claims)
	}

	// Rerun: only the two invalid and the failed event go to the judge again.
	callsBefore, _ := f.stats()
	out.Reset()
	sum2, err := Run(ctx, cfg, conn, &out)
	testenv.Must(t, err, "rerun")
	t.Logf("rerun:\n%s", out.String())
	if sum2.Judged != 3 || sum2.Skipped != 5 || sum2.Verdicts != 5 || sum2.Events != 8 {
		t.Fatalf("rerun: judged %d skipped %d verdicts %d events %d; want 3 5 5 8", sum2.Judged, sum2.Skipped, sum2.Verdicts, sum2.Events)
	}
	f.mu.Lock()
	for _, s := range []string{"#fenced", "#429once", "#500twice", "#biased"} {
		for resp, n := range f.attempts {
			if strings.Contains(resp, s) && n > 3 {
				t.Errorf("%q was judged again on the rerun (%d attempts in all)", resp, n)
			}
		}
	}
	f.mu.Unlock()
	callsAfter, _ := f.stats()
	if callsAfter-callsBefore != 1+1+3 { // malformed, wrongtype, slow (3 attempts)
		t.Errorf("rerun made %d judge calls, want 5", callsAfter-callsBefore)
	}
	var runs, judgedCol uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count(), any(judged) FROM llm_eval_runs FINAL WHERE job_id = ?", sum.JobID).Scan(&runs, &judgedCol), "runs")
	if runs != 1 || judgedCol != 3 {
		t.Fatalf("llm_eval_runs: %d rows, judged %d; want one row with the rerun's 3", runs, judgedCol)
	}
}

// On a set whose truth is known (the fake judge's verdicts follow markers,
// the detector scores are set), the agreement figures are exact, and a
// rerun judges nothing and reports the same figures.
func TestAgreementOnKnownTruth(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	passage := []string{"The warranty covers two years."}
	var specs []spec
	add := func(n int, completion string, ctxs []string, tox, hal float64) {
		for range n {
			specs = append(specs, spec{tenant: "acme", app: "support-bot", at: time.Duration(len(specs)) * time.Second,
				completion: fmt.Sprintf("%s (%d)", completion, len(specs)), context: ctxs, detTox: tox, detHal: hal})
		}
	}
	// Toxicity, detector >= 0.5 against the judge: TP 3, FP 1, FN 2, TN 4
	// here and 8 more below; one event without a detector score.
	add(3, "#toxic", nil, 0.8, -1)
	add(1, "fine", nil, 0.6, -1)
	add(2, "#toxic", nil, 0.2, -1)
	add(3, "fine", nil, 0.1, -1)
	add(1, "fine #biased", nil, 0.1, -1)
	add(1, "#toxic", nil, -1, -1)
	// Hallucination, on events with context: TP 2, FP 2, FN 1, TN 3.
	add(2, "#halluc", passage, 0.1, 0.9)
	add(2, "grounded", passage, 0.1, 0.7)
	add(1, "#halluc", passage, 0.1, 0.3)
	add(3, "grounded", passage, 0.1, 0.05)
	store(t, conn, specs)

	f := newFakeJudge(t, time.Second)
	cfg := jobConfig(f)
	cfg.JobID = "agreement-test"
	cfg.Concurrency, cfg.PageSize, cfg.BatchSize = 4, 256, 100
	var out bytes.Buffer
	sum, err := Run(ctx, cfg, conn, &out)
	testenv.Must(t, err, "run")
	t.Logf("\n%s", out.String())

	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	verify := func(s Summary) {
		t.Helper()
		tx, h := s.Toxicity, s.Hallucination
		if tx.TP != 3 || tx.FP != 1 || tx.FN != 2 || tx.TN != 12 || tx.N != 18 {
			t.Errorf("toxicity confusion %+v; want TP 3 FP 1 FN 2 TN 12", tx)
		}
		// Hand-computed: P = 3/4, R = 3/5, F1 = 2*3/(2*3+1+2).
		near("toxicity precision", tx.Precision, 0.75)
		near("toxicity recall", tx.Recall, 0.6)
		near("toxicity F1", tx.F1, 6.0/9)
		if h.TP != 2 || h.FP != 2 || h.FN != 1 || h.TN != 3 || h.N != 8 {
			t.Errorf("hallucination confusion %+v; want TP 2 FP 2 FN 1 TN 3", h)
		}
		near("hallucination precision", h.Precision, 0.5)
		near("hallucination recall", h.Recall, 2.0/3)
		near("hallucination F1", h.F1, 4.0/7)
		near("toxic rate", s.ToxicRate, 6.0/19)
		near("hallucination rate", s.HallucinationRate, 3.0/8)
		near("bias rate", s.BiasRate, 1.0/19)
	}
	if sum.Verdicts != 19 || sum.Judged != 19 {
		t.Fatalf("verdicts %d judged %d, want 19", sum.Verdicts, sum.Judged)
	}
	verify(sum)

	calls, _ := f.stats()
	sum2, err := Run(ctx, cfg, conn, &out)
	testenv.Must(t, err, "rerun")
	if again, _ := f.stats(); again != calls || sum2.Judged != 0 || sum2.Skipped != 19 {
		t.Fatalf("rerun judged %d (calls %d -> %d), skipped %d; want nothing judged", sum2.Judged, calls, again, sum2.Skipped)
	}
	verify(sum2)

	var p, r, f1 *float64
	var tp uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT toxicity_tp, toxicity_precision, toxicity_recall, hallucination_f1 FROM llm_eval_runs FINAL WHERE job_id = 'agreement-test'").Scan(&tp, &p, &r, &f1), "run row")
	if tp != 3 || p == nil || *p != 0.75 || r == nil || *r != 0.6 || f1 == nil || math.Abs(*f1-4.0/7) > 1e-9 {
		t.Fatalf("stored run row: tp %d precision %v recall %v hallucination f1 %v", tp, p, r, f1)
	}
}

// --alert-id takes the key and the span of the alert's pending and firing
// windows from llm_alerts (migration 0004).
func TestRunForAlert(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	f := newFakeJudge(t, time.Second)
	cfg := jobConfig(f)
	cfg.Scope, cfg.From, cfg.To = Scope{}, time.Time{}, time.Time{}
	cfg.AlertID = "alert-1"

	// Normally there from migration 0004; the columns reeval reads.
	testenv.Must(t, conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS llm_alerts (alert_id String, kind String, state String, tenant String,
		app String, model String, variant String, window_start DateTime, window_seconds UInt32) ENGINE = MergeTree ORDER BY alert_id`), "create llm_alerts")
	b, err := conn.PrepareBatch(ctx, "INSERT INTO llm_alerts (alert_id, kind, state, tenant, app, model, variant, window_start, window_seconds)")
	testenv.Must(t, err, "prepare")
	// Pending in the 10:05 window, firing in 10:10 (with its action row),
	// resolved in 10:30: the span is 10:05-10:15. Another alert's rows
	// must not widen it.
	for _, r := range []struct {
		id, kind, state string
		start           time.Duration
	}{
		{"alert-1", "state", "pending", 5 * time.Minute}, {"alert-1", "state", "firing", 10 * time.Minute},
		{"alert-1", "action", "firing", 10 * time.Minute}, {"alert-1", "state", "resolved", 30 * time.Minute},
		{"alert-2", "state", "firing", 0},
	} {
		testenv.Must(t, b.Append(r.id, r.kind, r.state, "acme", "support-bot", "gpt-4o-mini", "", t0.Add(r.start), uint32(300)), "append")
	}
	testenv.Must(t, b.Send(), "send")

	store(t, conn, []spec{
		{tenant: "acme", app: "support-bot", at: 4 * time.Minute, completion: "before", detTox: 0.1, detHal: -1},
		{tenant: "acme", app: "support-bot", at: 5 * time.Minute, completion: "first #toxic", detTox: 0.9, detHal: -1},
		{tenant: "acme", app: "support-bot", at: 14*time.Minute + 59*time.Second, completion: "last #toxic", detTox: 0.9, detHal: -1},
		{tenant: "acme", app: "support-bot", at: 15 * time.Minute, completion: "after", detTox: 0.1, detHal: -1},
		{tenant: "acme", app: "support-bot", at: 31 * time.Minute, completion: "while resolving", detTox: 0.1, detHal: -1},
		{tenant: "acme", app: "other-app", at: 6 * time.Minute, completion: "other key", detTox: 0.1, detHal: -1},
		{tenant: "acme", app: "support-bot", variant: "B", at: 6 * time.Minute, completion: "other variant", detTox: 0.1, detHal: -1},
	})
	var out bytes.Buffer
	sum, err := Run(ctx, cfg, conn, &out)
	testenv.Must(t, err, "run")
	t.Logf("\n%s", out.String())
	if sum.Events != 2 || sum.Verdicts != 2 || !sum.From.Equal(t0.Add(5*time.Minute)) || !sum.To.Equal(t0.Add(15*time.Minute)) ||
		sum.Scope.App != "support-bot" || sum.Toxicity.TP != 2 || !strings.HasPrefix(sum.JobID, "alert-") {
		t.Fatalf("alert job: %+v", sum)
	}
	cfg.AlertID = "no-such-alert"
	if _, err := Run(ctx, cfg, conn, &bytes.Buffer{}); !errors.Is(err, ErrNoAlert) {
		t.Fatalf("unknown alert: want ErrNoAlert, got %v", err)
	}
}

// --alert-id may name an incident (the id a grouped notification and its
// job request carry): the job spans its series, here two models of one
// app, and no other app.
func TestRunForIncident(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	f := newFakeJudge(t, time.Second)
	cfg := jobConfig(f)
	cfg.Scope, cfg.From, cfg.To = Scope{}, time.Time{}, time.Time{}
	cfg.AlertID = "incident-1"
	b, err := conn.PrepareBatch(ctx, "INSERT INTO llm_alerts (alert_id, incident_id, kind, state, tenant, app, model, variant, window_start, window_seconds)")
	testenv.Must(t, err, "prepare")
	for _, r := range []struct {
		id, incident, kind, state, app, variant string
		start                                   time.Duration
	}{
		{"incident-1", "incident-1", "incident", "firing", "support-bot", "", 5 * time.Minute},
		{"alert-a", "incident-1", "state", "firing", "support-bot", "A", 5 * time.Minute},
		{"alert-b", "incident-1", "state", "firing", "support-bot", "B", 10 * time.Minute},
		{"alert-b", "incident-1", "state", "resolved", "support-bot", "B", 30 * time.Minute},
		{"alert-c", "incident-2", "state", "firing", "other-app", "A", 0},
	} {
		testenv.Must(t, b.Append(r.id, r.incident, r.kind, r.state, "acme", r.app, "gpt-4o-mini", r.variant, t0.Add(r.start), uint32(300)), "append")
	}
	testenv.Must(t, b.Send(), "send")
	store(t, conn, []spec{
		{tenant: "acme", app: "support-bot", variant: "A", at: 6 * time.Minute, completion: "a #toxic", detTox: 0.9, detHal: -1},
		{tenant: "acme", app: "support-bot", variant: "B", at: 11 * time.Minute, completion: "b #toxic", detTox: 0.9, detHal: -1},
		{tenant: "acme", app: "support-bot", variant: "B", at: 16 * time.Minute, completion: "after", detTox: 0.1, detHal: -1},
		{tenant: "acme", app: "other-app", variant: "A", at: 6 * time.Minute, completion: "other app", detTox: 0.1, detHal: -1},
	})
	sum, err := Run(ctx, cfg, conn, &bytes.Buffer{})
	testenv.Must(t, err, "run")
	if sum.Events != 2 || !sum.From.Equal(t0.Add(5*time.Minute)) || !sum.To.Equal(t0.Add(15*time.Minute)) ||
		sum.Scope.App != "support-bot" || sum.Scope.Variant != "*" {
		t.Fatalf("incident job: %+v", sum)
	}
}

// Without llm_alerts the error says what is missing.
func TestRunForAlertWithoutAlertsTable(t *testing.T) {
	conn, _ := testenv.Database(t)
	testenv.Must(t, conn.Exec(context.Background(), "DROP TABLE IF EXISTS llm_alerts"), "drop")
	cfg := jobConfig(newFakeJudge(t, time.Second))
	cfg.Scope, cfg.From, cfg.To, cfg.AlertID = Scope{}, time.Time{}, time.Time{}, "alert-1"
	_, err := Run(context.Background(), cfg, conn, &bytes.Buffer{})
	if !errors.Is(err, ErrNoAlerts) || !strings.Contains(err.Error(), "sightline migrate") {
		t.Fatalf("without llm_alerts: want ErrNoAlerts, got %v", err)
	}
}

// A judge that rejects the credentials stops the job at once with an error
// that says what to check, instead of recording every event as failed.
func TestRunStopsWhenJudgeRejects(t *testing.T) {
	conn, _ := testenv.Database(t)
	var specs []spec
	for i := range 50 {
		specs = append(specs, spec{tenant: "acme", app: "support-bot", at: time.Duration(i) * time.Second, completion: "x", detTox: 0.1, detHal: -1})
	}
	store(t, conn, specs)
	f := newFakeJudge(t, time.Second)
	f.status = 401
	_, err := Run(context.Background(), jobConfig(f), conn, &bytes.Buffer{})
	if !errors.Is(err, ErrJudgeRejected) || !strings.Contains(err.Error(), "SIGHTLINE_JUDGE_API_KEY") {
		t.Fatalf("want ErrJudgeRejected with advice, got %v", err)
	}
	if calls, _ := f.stats(); calls > 10 {
		t.Fatalf("%d calls to a judge that rejects the key", calls)
	}
}

// An interrupted job keeps the verdicts it paid for and its partial
// summary; the rerun judges exactly the rest.
func TestInterruptedJobResumes(t *testing.T) {
	conn, _ := testenv.Database(t)
	var specs []spec
	for i := range 40 {
		specs = append(specs, spec{tenant: "acme", app: "support-bot", at: time.Duration(i) * time.Second, completion: "answer", detTox: 0.1, detHal: -1})
	}
	store(t, conn, specs)
	f := newFakeJudge(t, time.Second)
	f.delay = 40 * time.Millisecond
	cfg := jobConfig(f)
	cfg.Concurrency, cfg.BatchSize = 2, 5

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	first, err := Run(ctx, cfg, conn, &bytes.Buffer{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	var stored, runs uint64
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count() FROM llm_evaluations FINAL WHERE job_id = ? AND valid = 1", first.JobID).Scan(&stored), "count")
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count() FROM llm_eval_runs FINAL WHERE job_id = ?", first.JobID).Scan(&runs), "runs")
	if stored == 0 || stored >= 40 || int(stored) != first.Verdicts || runs != 1 {
		t.Fatalf("interrupted: %d verdicts stored, summary says %d, %d run rows", stored, first.Verdicts, runs)
	}
	second, err := Run(context.Background(), cfg, conn, &bytes.Buffer{})
	testenv.Must(t, err, "rerun")
	if second.Skipped != int(stored) || second.Judged != 40-int(stored) || second.Verdicts != 40 {
		t.Fatalf("rerun: skipped %d judged %d verdicts %d; want %d %d 40", second.Skipped, second.Judged, second.Verdicts, stored, 40-stored)
	}
}
