// Package offsets watches the broker's offsets of the topics a stage
// consumes, on a timer and whether or not the stage fetches anything: the
// end offsets a consumer can reach (the last stable offset, so the
// transactional partials topic is measured as a read_committed consumer sees
// it), the start offsets, and for each partition since when its end offset
// has not moved. The stages turn them into honest lag metrics and the score
// stage into its progress reports.
//
// It must never block the stage: listings run on the watcher's own
// goroutine, and readers get the last complete listing.
package offsets

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Listing is one topic's offsets at one moment.
type Listing struct {
	// At is when the listing was requested: every record appended before
	// At is below End.
	At         time.Time
	Partitions int32
	End        map[int32]int64
	Start      map[int32]int64
	// Since is when each partition's end offset was first seen at its
	// current value (no record has been appended since, at least).
	Since map[int32]time.Time
}

// Watcher lists offsets every interval until Close.
type Watcher struct {
	adm      *kadm.Client
	topics   []string
	interval time.Duration
	timeout  time.Duration
	onList   func()

	mu   sync.Mutex
	last map[string]*Listing
	err  error

	stop chan struct{}
	done chan struct{}
}

// Config of a Watcher.
type Config struct {
	// Interval between listings (default 1s).
	Interval time.Duration
	// Timeout of one listing (default 5s).
	Timeout time.Duration
	// OnListing, when set, runs after each successful listing (on the
	// watcher's goroutine; the stages update their lag gauges there).
	OnListing func()
}

// Start starts watching topics through cl (whose connections it shares).
func Start(cl *kgo.Client, cfg Config, topics ...string) *Watcher {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	w := &Watcher{adm: kadm.NewClient(cl), topics: topics, interval: cfg.Interval, timeout: cfg.Timeout, onList: cfg.OnListing,
		last: map[string]*Listing{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *Watcher) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		go func() {
			select {
			case <-w.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := w.Refresh(ctx)
		cancel()
		if err == nil && w.onList != nil {
			w.onList()
		}
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// Close stops the watcher and waits for its goroutine.
func (w *Watcher) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// Refresh lists the offsets now.
func (w *Watcher) Refresh(ctx context.Context) error {
	at := time.Now()
	end, err := w.adm.ListCommittedOffsets(ctx, w.topics...)
	if err == nil {
		err = end.Error()
	}
	var start kadm.ListedOffsets
	if err == nil {
		start, err = w.adm.ListStartOffsets(ctx, w.topics...)
		if err == nil {
			err = start.Error()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.err = fmt.Errorf("cannot list offsets of %v: %w", w.topics, err)
		return w.err
	}
	w.err = nil
	for _, topic := range w.topics {
		ps := end[topic]
		if len(ps) == 0 {
			continue
		}
		prev := w.last[topic]
		l := &Listing{At: at, End: map[int32]int64{}, Start: map[int32]int64{}, Since: map[int32]time.Time{}}
		for p, o := range ps {
			if p < 0 || o.Err != nil {
				continue
			}
			l.End[p] = o.Offset
			if p+1 > l.Partitions {
				l.Partitions = p + 1
			}
			l.Since[p] = at
			if prev != nil {
				if pe, ok := prev.End[p]; ok && pe == o.Offset {
					l.Since[p] = prev.Since[p]
				}
			}
			if so, ok := start.Lookup(topic, p); ok && so.Err == nil {
				l.Start[p] = so.Offset
			}
		}
		w.last[topic] = l
	}
	return nil
}

// Last is the latest listing of topic (nil before the first); callers must
// not modify it.
func (w *Watcher) Last(topic string) *Listing {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[topic]
}

// Err is the error of the latest listing, if it failed.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
