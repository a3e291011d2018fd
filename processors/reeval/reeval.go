package reeval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/redact"
)

// flushTimeout bounds each write of verdicts and the summary; writes are not
// cancelled with the job, so the verdicts already paid for are kept.
const flushTimeout = 30 * time.Second

// Run executes one re-evaluation job: it resolves the scope (from the
// alert when cfg.AlertID is set), judges every event of the scope that has
// no valid verdict under the job id yet, writes the verdicts to
// llm_evaluations as they come, then stores the summary in llm_eval_runs
// and prints it to out. An interrupted job (ctx ended) keeps what it
// judged and stores its partial summary; rerun it with the same job id.
//
// The returned error is nil when the job went through, even when some
// verdicts were invalid or failed (they are counted in the summary). It is
// non-nil for a bad config, a missing alert, ClickHouse errors, a judge that
// rejects the job (ErrJudgeRejected) and the end of ctx.
func Run(ctx context.Context, cfg Config, conn driver.Conn, out io.Writer) (Summary, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return Summary{}, err
	}
	if cfg.JobID == "" {
		cfg.JobID = DefaultJobID(cfg)
	}
	if cfg.AlertID != "" {
		s, from, to, err := alertScope(ctx, conn, cfg.AlertID)
		if err != nil {
			return Summary{}, err
		}
		cfg.Scope, cfg.From, cfg.To = s, from, to
	}
	cfg.From, cfg.To = cfg.From.UTC(), cfg.To.UTC()
	sum := newSummary(&cfg)
	sum.Started = time.Now().UTC()

	prior, err := priorVerdicts(ctx, conn, cfg.JobID)
	if err != nil {
		return sum, err
	}
	total, err := countEvents(ctx, conn, cfg.Scope, cfg.AlertID != "", cfg.From, cfg.To)
	if err != nil {
		return sum, err
	}
	if cfg.MaxEvents > 0 && total > uint64(cfg.MaxEvents) {
		sum.Truncated = true
	}
	fmt.Fprintf(out, "reeval job %s: %d events in range, %d verdicts from earlier runs, judge %s at %s (concurrency %d)\n",
		cfg.JobID, total, len(prior), cfg.JudgeModel, redact.URL(cfg.endpoint()), cfg.Concurrency)

	r := &runner{cfg: &cfg, conn: conn, out: out, sum: &sum, judge: newJudge(&cfg), total: total}
	err = r.run(ctx, prior)

	sum.Finished = time.Now().UTC()
	sum.finish()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if serr := insertRun(wctx, conn, &sum); serr != nil && err == nil {
		err = serr
	}
	sum.Print(out)
	return sum, err
}

type runner struct {
	cfg   *Config
	conn  driver.Conn
	out   io.Writer
	judge *judge
	total uint64

	mu  sync.Mutex // guards sum: the reader counts skipped events, the writer judged ones
	sum *Summary
}

func (r *runner) run(parent context.Context, prior map[string]judged) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)

	jobs := make(chan *event, r.cfg.Concurrency)
	results := make(chan evalRow, r.cfg.Concurrency)

	var workers sync.WaitGroup
	for range r.cfg.Concurrency {
		workers.Go(func() {
			for ev := range jobs {
				res, err := r.judge.Judge(ctx, &ev.Exchange)
				if err != nil {
					cancel(err)
					continue // drain jobs so the reader never blocks
				}
				results <- evalRow{ev: ev, res: res, at: time.Now().UTC()}
			}
		})
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- r.write(parent, results, cancel) }()

	readErr := eventPages(ctx, r.conn, r.cfg.Scope, r.cfg.AlertID != "", r.cfg.From, r.cfg.To, r.cfg.PageSize, r.cfg.MaxEvents, func(evs []event) error {
		for i := range evs {
			ev := &evs[i]
			r.mu.Lock()
			r.sum.Events++
			j, done := prior[ev.ID]
			if done {
				r.sum.Skipped++
				r.sum.count(j, ev.DetTox, ev.DetHal)
			}
			r.mu.Unlock()
			if done {
				continue
			}
			select {
			case jobs <- ev:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	})
	close(jobs)
	workers.Wait()
	close(results)
	werr := <-writeErr

	// The first cause wins: a rejected judge or a failed write explains a
	// cancelled read better than "context canceled".
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if werr != nil {
		return werr
	}
	if readErr != nil {
		return readErr
	}
	return parent.Err()
}

// write stores results in batches and counts them. It drains results to
// the end even after a failed insert, so the workers never block.
func (r *runner) write(parent context.Context, results <-chan evalRow, cancel context.CancelCauseFunc) error {
	var batch []evalRow
	var failed error
	lastReport := time.Now()
	flush := func() {
		if len(batch) == 0 || failed != nil {
			batch = batch[:0]
			return
		}
		// Not cancelled with the job: an interruption must not lose the
		// verdicts already paid for, nor abort an insert midway.
		ctx, c := context.WithTimeout(context.WithoutCancel(parent), flushTimeout)
		defer c()
		if err := insertEvaluations(ctx, r.conn, r.cfg.JobID, r.cfg.JudgeModel, batch); err != nil {
			failed = err
			cancel(err)
		}
		batch = batch[:0]
	}
	for res := range results {
		r.mu.Lock()
		r.sum.Judged++
		v := res.res.Verdict
		switch {
		case res.res.Failed:
			r.sum.Failed++
		case !v.Valid:
			r.sum.Invalid++
		default:
			r.sum.count(judged{toxic: v.Toxic, biased: v.Biased, hallucinated: v.Hallucinated}, res.ev.DetTox, res.ev.DetHal)
		}
		judgedN, events := r.sum.Judged, r.sum.Events
		r.mu.Unlock()
		batch = append(batch, res)
		if len(batch) >= r.cfg.BatchSize {
			flush()
		}
		if time.Since(lastReport) >= 15*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(r.out, "  progress: %d of %d events read, %d judged\n", events, r.total, judgedN)
		}
	}
	flush()
	return failed
}
