package score

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/retry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/internal/offsets"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// DLQ record headers.
const (
	HeaderReason          = "sightline.dlq.reason"
	HeaderDetail          = "sightline.dlq.detail"
	HeaderSourceTopic     = "sightline.source.topic"
	HeaderSourcePartition = "sightline.source.partition"
	HeaderSourceOffset    = "sightline.source.offset"
)

// Stage is a running score stage.
type Stage struct {
	cfg    Config
	conn   driver.Conn
	scorer *runner.Scorer
	sess   *kgo.GroupTransactSession
	kcl    *kgo.Client
	m      *metrics
	ready  atomic.Bool
	prog   *progress
	watch  *offsets.Watcher

	lagParts   map[int32]bool // partitions with a lag gauge
	lastReport time.Time

	rows     []chsink.EventRow
	feedback []*eventpb.Event
	dlq      []*kgo.Record
	pending  int // records polled since the last commit
	started  time.Time
}

// New creates the stage; Run starts it.
func New(cfg Config, conn driver.Conn, reg prometheus.Registerer) (*Stage, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.TransactionalID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.TransactionalID = cfg.Group + "-" + hex.EncodeToString(b[:])
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.SessionTimeout(cfg.SessionTimeout),
		// Dead-letter records, window partials and the consumed offsets
		// commit in one Kafka transaction: a crash or a rebalance before
		// the commit aborts them all and the records are consumed again,
		// so partials are never counted twice. The ClickHouse insert
		// happens before the commit; its replays collapse by event id.
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(64 << 20),
		kgo.FetchMaxPartitionBytes(32 << 20),
		kgo.ProducerBatchMaxBytes(16 << 20),
		kgo.ClientID("sightline-score"),
		kgo.RecordPartitioner(newPartitioner(cfg.ProgressTopic)),
	}
	prog := newProgress()
	opts = append(opts, ownershipOpts(cfg.Topic, prog)...)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	opts = append(opts, cfg.KafkaOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	if err := checkBalancer(sess.Client()); err != nil {
		sess.Close()
		return nil, err
	}
	m := newMetrics(reg)
	for _, d := range cfg.Detectors {
		m.detectorErrors.WithLabelValues(d.Name())
	}
	scorer := runner.New(cfg.Detectors, func(name string, _ error) { m.detectorErrors.WithLabelValues(name).Inc() })
	return &Stage{cfg: cfg, conn: conn, sess: sess, kcl: sess.Client(), m: m, scorer: scorer, prog: prog, lagParts: map[int32]bool{}}, nil
}

// Ready reports whether the stage is consuming: it has joined its group
// and owns at least one partition of the events topic (a member without
// partitions scores nothing; Status says so).
func (s *Stage) Ready() bool { ok, _ := s.Status(); return ok }

// Status is Ready with the reason when not ready.
func (s *Stage) Status() (bool, string) {
	switch {
	case !s.ready.Load():
		return false, "not consuming (starting, stopping or failed)"
	case s.prog.numOwned() == 0:
		return false, "owns no partition of " + s.cfg.Topic + " (the group's other members have them all, or a rebalance is under way)"
	}
	return true, ""
}

// updateLag sets the lag gauges from the latest offsets listing: the
// broker's end offset minus the committed position, per owned partition,
// refreshed on the watcher's timer whether or not fetches happen.
func (s *Stage) updateLag() {
	l := s.watch.Last(s.cfg.Topic)
	if l == nil {
		return
	}
	lag := s.prog.lag(l, committedOffsets(s.kcl, s.cfg.Topic))
	s.m.assigned.Set(float64(s.prog.numOwned()))
	for p, n := range lag {
		s.m.lag.WithLabelValues(strconv.Itoa(int(p))).Set(float64(n))
	}
	for p := range s.lagParts {
		if _, ok := lag[p]; !ok {
			s.m.lag.DeleteLabelValues(strconv.Itoa(int(p)))
			delete(s.lagParts, p)
		}
	}
	for p := range lag {
		s.lagParts[p] = true
	}
	s.m.lagListed.Set(float64(l.At.UnixNano()) / 1e9)
}

// Run consumes until ctx ends, then stores and commits what it holds and
// leaves the group.
func (s *Stage) Run(ctx context.Context) error {
	defer s.leave()
	log := s.cfg.Logger
	topics := []string{s.cfg.Topic}
	if s.cfg.Partials != nil {
		topics = append(topics, s.cfg.ProgressTopic)
	}
	s.watch = offsets.Start(s.kcl, offsets.Config{Interval: s.cfg.ProgressInterval, OnListing: s.updateLag}, topics...)
	defer s.watch.Close()
	for {
		if ctx.Err() != nil {
			break
		}
		wait := s.cfg.FlushInterval
		if s.pending > 0 {
			if wait = s.cfg.FlushInterval - time.Since(s.started); wait < time.Millisecond {
				wait = time.Millisecond
			}
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := s.sess.PollRecords(pctx, s.cfg.BatchSize-len(s.rows)-len(s.feedback))
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			s.m.fetchErrors.Inc()
			log.Warn("kafka fetch error", "topic", t, "partition", p, "err", err)
		})
		s.ready.Store(true)
		if s.pending == 0 && !fetches.Empty() {
			if err := s.sess.Begin(); err != nil {
				return fmt.Errorf("cannot begin kafka transaction: %w", err)
			}
		}
		fetches.EachRecord(s.process)
		if s.pending > 0 && (len(s.rows)+len(s.feedback) >= s.cfg.BatchSize || time.Since(s.started) >= s.cfg.FlushInterval) {
			if err := s.flush(ctx); err != nil {
				if ctx.Err() == nil {
					// Not a shutdown: the session cannot go on (e.g. its
					// transactional id was fenced). Stop and say why; the
					// uncommitted batch is consumed again by whoever
					// takes the partitions.
					s.ready.Store(false)
					return err
				}
				break // ctx ended while retrying; the records replay later
			}
		}
		if s.pending == 0 && s.cfg.Partials != nil && time.Since(s.lastReport) >= heartbeatDue(time.Since(s.prog.lastEvent), s.cfg.ProgressInterval) {
			if err := s.heartbeat(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				s.ready.Store(false)
				return err
			}
		}
	}
	s.ready.Store(false)
	if s.pending > 0 {
		// Store what was polled, so a clean stop leaves nothing to replay.
		fctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := s.flush(fctx); err != nil {
			log.Warn("could not store the last batch before stopping; it will be replayed", "err", err)
		}
		cancel()
	}
	return nil
}

// leave closes the session (leaving the group) and shows that the
// member owns nothing any more: the revoke of leaving may be one the
// transact session holds back. Run's watcher has stopped by then.
func (s *Stage) leave() {
	s.sess.Close()
	s.prog.own(nil)
	s.m.assigned.Set(0)
	for p := range s.lagParts {
		s.m.lag.DeleteLabelValues(strconv.Itoa(int(p)))
		delete(s.lagParts, p)
	}
}

func (s *Stage) process(r *kgo.Record) {
	if s.pending == 0 {
		s.started = time.Now()
	}
	s.pending++
	ev, err := schemas.Decode(r.Value)
	if err != nil {
		s.prog.scored(r.Partition, r.Offset, 0)
		s.reject(r, err)
		return
	}
	s.prog.scored(r.Partition, r.Offset, ev.GetTs().AsTime().UnixMilli())
	if ev.GetTruncated() {
		s.m.truncated.Inc()
	}
	if ev.GetKind() == eventpb.Kind_KIND_FEEDBACK {
		s.feedback = append(s.feedback, ev)
		return
	}
	s.rows = append(s.rows, s.Score(ev, r.Partition, r.Offset))
	if s.cfg.Partials != nil {
		s.cfg.Partials.Add(&s.rows[len(s.rows)-1])
	}
}

// Score computes everything stored beside one valid event: the cheap
// features and every detector's scores.
func (s *Stage) Score(ev *eventpb.Event, partition int32, offset int64) chsink.EventRow {
	row := chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev), Partition: partition, Offset: offset}
	row.DetectorErrors = s.scorer.Score(ev, &row.Scores)
	return row
}

func (s *Stage) reject(r *kgo.Record, err error) {
	reason := schemas.ReasonOf(err)
	s.m.dlq.WithLabelValues(string(reason)).Inc()
	s.dlq = append(s.dlq, &kgo.Record{
		Topic: s.cfg.DLQTopic,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
			kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
			kgo.RecordHeader{Key: HeaderDetail, Value: []byte(err.Error())},
			kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			kgo.RecordHeader{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		),
	})
}

// flush stores the batch, produces its rejects and commits, retrying each
// step until it succeeds or ctx ends.
func (s *Stage) flush(ctx context.Context) error {
	if len(s.rows) > 0 {
		n := len(s.rows)
		if err := s.retry(ctx, "clickhouse", func(ctx context.Context) error {
			start := time.Now()
			err := chsink.InsertEvents(ctx, s.conn, s.rows)
			if err == nil {
				s.m.insertDur.Observe(time.Since(start).Seconds())
			}
			return err
		}); err != nil {
			return err
		}
		s.m.batchSize.Observe(float64(n))
		s.m.records.WithLabelValues("stored").Add(float64(n))
	}
	if len(s.feedback) > 0 {
		if err := s.retry(ctx, "clickhouse", func(ctx context.Context) error {
			return chsink.InsertFeedback(ctx, s.conn, s.feedback)
		}); err != nil {
			return err
		}
		s.m.records.WithLabelValues("feedback").Add(float64(len(s.feedback)))
	}
	var recs []*kgo.Record
	recs = append(recs, s.dlq...)
	if s.cfg.Partials != nil {
		precs, err := s.cfg.Partials.Records()
		if err != nil {
			// Encoding our own aggregates cannot fail on bad input; treat
			// it as a bug that must not lose the batch.
			return fmt.Errorf("cannot encode window partials: %w", err)
		}
		recs = append(recs, precs...)
		// After the partials: a report covers the partials before it.
		prec, err := s.progressRecords()
		if err != nil {
			return err
		}
		recs = append(recs, prec...)
	}
	if len(recs) > 0 {
		if err := s.retry(ctx, "produce", func(ctx context.Context) error {
			return s.sess.ProduceSync(ctx, recs...).FirstErr()
		}); err != nil {
			return err
		}
	}
	committed, err := s.sess.End(ctx, kgo.TryCommit)
	if err != nil || !committed {
		// The transaction aborted (a rebalance, or the broker fenced us):
		// the session rewinds to the committed offsets and the batch is
		// consumed again. What reached ClickHouse collapses by event id.
		s.m.aborts.Inc()
		s.cfg.Logger.Warn("transaction aborted; the batch will be consumed again", abortCause(err)...)
		s.prog.abort()
		s.reset()
		if err != nil && ctx.Err() == nil && !isRetriable(err) {
			return fmt.Errorf("cannot commit kafka transaction: %w", err)
		}
		return nil
	}
	s.m.records.WithLabelValues("dlq").Add(float64(len(s.dlq)))
	s.m.commits.Inc()
	s.prog.commit(time.Now())
	if s.cfg.OnCommitted != nil && len(s.rows) > 0 {
		s.cfg.OnCommitted(s.rows)
	}
	s.reset()
	return nil
}

// reset forgets the batch (after a commit, or an abort that replays it).
func (s *Stage) reset() {
	clear(s.rows)
	s.rows = s.rows[:0]
	clear(s.feedback)
	s.feedback = s.feedback[:0]
	clear(s.dlq)
	s.dlq = s.dlq[:0]
	if s.cfg.Partials != nil {
		s.cfg.Partials.Reset()
	}
	s.pending = 0
}

// isRetriable: an error from End after which the session may go on.
func isRetriable(err error) bool {
	return errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, context.DeadlineExceeded)
}

func (s *Stage) retry(ctx context.Context, target string, fn func(context.Context) error) error {
	retried := 0
	err := retry.Do(ctx, retry.Policy{Min: s.cfg.RetryMin, Max: s.cfg.RetryMax}, fn, func(attempt int, err error) {
		retried++
		s.m.retries.WithLabelValues(target).Inc()
		if attempt == 0 || attempt%10 == 0 {
			s.cfg.Logger.Warn("retrying", "target", target, "attempt", attempt+1, "err", err)
		}
	})
	if err == nil && retried > 0 {
		s.cfg.Logger.Info("recovered after retries", "target", target, "attempts", retried+1)
	}
	return err
}

// progressRecords are the progress report of this batch for every
// partition of the partials topic (none before the first offsets listing).
func (s *Stage) progressRecords() ([]*kgo.Record, error) {
	l, pl := s.watch.Last(s.cfg.Topic), s.watch.Last(s.cfg.ProgressTopic)
	if l == nil || pl == nil || pl.Partitions == 0 {
		return nil, nil
	}
	s.lastReport = time.Now()
	return progressRecords(s.cfg.ProgressTopic, pl.Partitions, s.prog.report(l, committedOffsets(s.kcl, s.cfg.Topic)))
}

// abortCause is the log attribute of an aborted transaction: End's error,
// or, when End chose to abort, the reason (the group rebalanced, or this
// member lost its partitions, since the transaction began).
func abortCause(err error) []any {
	if err != nil {
		return []any{"err", err}
	}
	return []any{"reason", "the group rebalanced since the transaction began"}
}

// heartbeat reports progress while no records arrive, in a transaction of
// its own, so windows close when the events topic is drained and quiet.
func (s *Stage) heartbeat(ctx context.Context) error {
	s.lastReport = time.Now() // also when the listing is not there yet
	recs, err := s.progressRecords()
	if err != nil || len(recs) == 0 {
		return err
	}
	if err := s.sess.Begin(); err != nil {
		return fmt.Errorf("cannot begin kafka transaction: %w", err)
	}
	if err := s.retry(ctx, "produce", func(ctx context.Context) error {
		return s.sess.ProduceSync(ctx, recs...).FirstErr()
	}); err != nil {
		_, _ = s.sess.End(context.Background(), kgo.TryAbort)
		return nil // ctx ended
	}
	committed, err := s.sess.End(ctx, kgo.TryCommit)
	if err != nil || !committed {
		s.m.aborts.Inc()
		if err != nil && ctx.Err() == nil && !isRetriable(err) {
			return fmt.Errorf("cannot commit kafka transaction: %w", err)
		}
		// Only progress reports were in it: the next heartbeat sends them again.
		s.cfg.Logger.Info("progress report transaction aborted; the next heartbeat reports again", abortCause(err)...)
	}
	return nil
}
