package score

import (
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/processors/internal/offsets"
	"github.com/sightline-dev/sightline/processors/window"
)

// progress tracks, per owned partition of the events topic, how far the
// stage has scored it: the next offset and the latest event time. Batch
// values become committed ones only when the batch's transaction commits,
// so a report never claims more than the partials committed with it.
type progress struct {
	mu        sync.Mutex // the group's callbacks run on franz-go's goroutines
	owned     map[int32]bool
	pos       map[int32]int64 // committed: next offset to score
	maxTS     map[int32]int64 // committed: latest event time, Unix ms
	batchPos  map[int32]int64
	batchMax  map[int32]int64
	lastEvent time.Time // when a record was last scored (heartbeat pace)
}

func newProgress() *progress {
	return &progress{owned: map[int32]bool{}, pos: map[int32]int64{}, maxTS: map[int32]int64{},
		batchPos: map[int32]int64{}, batchMax: map[int32]int64{}}
}

// own makes parts the owned partitions (the member's whole assignment)
// and forgets the progress of every other partition.
func (p *progress) own(parts []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := make(map[int32]bool, len(parts))
	for _, i := range parts {
		keep[i] = true
	}
	for i := range p.owned {
		if !keep[i] {
			p.forgetLocked(i)
		}
	}
	p.owned = keep
}

// revoked forgets parts (given away, or lost with the group session).
func (p *progress) revoked(parts []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range parts {
		p.forgetLocked(i)
	}
}

func (p *progress) forgetLocked(i int32) {
	delete(p.owned, i)
	delete(p.pos, i)
	delete(p.maxTS, i)
	delete(p.batchPos, i)
	delete(p.batchMax, i)
}

func (p *progress) numOwned() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.owned)
}

// scored notes one record of the current batch (the stage's goroutine).
func (p *progress) scored(partition int32, offset int64, tsMS int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batchPos[partition] = offset + 1
	if tsMS > p.batchMax[partition] {
		p.batchMax[partition] = tsMS
	}
}

// commit makes the batch's progress the committed one.
func (p *progress) commit(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.batchPos) > 0 {
		p.lastEvent = now
	}
	for i, o := range p.batchPos {
		if p.owned[i] {
			p.pos[i] = o
		}
	}
	for i, ts := range p.batchMax {
		if p.owned[i] && ts > p.maxTS[i] {
			p.maxTS[i] = ts
		}
	}
	clear(p.batchPos)
	clear(p.batchMax)
}

// abort forgets the batch (it is consumed again).
func (p *progress) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.batchPos)
	clear(p.batchMax)
}

// report builds the progress report of the owned partitions as it will
// stand once the current batch commits. committed are the group's
// committed offsets (positions of partitions this member has not scored
// from yet).
func (p *progress) report(l *offsets.Listing, committed map[int32]int64) *window.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &window.Progress{Partitions: l.Partitions, ListedAt: l.At.UnixMilli()}
	for i := range p.owned {
		if i >= l.Partitions {
			continue
		}
		pp := window.PartProgress{Partition: i, MaxTS: max(p.maxTS[i], p.batchMax[i])}
		pos, known := p.batchPos[i]
		if !known {
			pos, known = p.pos[i]
		}
		if !known {
			pos, known = committed[i]
		}
		end, hasEnd := l.End[i]
		switch {
		case !hasEnd:
		case known && pos >= end:
			pp.CaughtUp = true
		case !known && l.Start[i] >= end:
			pp.CaughtUp = true // an empty partition
		}
		if pp.CaughtUp {
			pp.IdleMS = max(l.At.Sub(l.Since[i]).Milliseconds(), 0)
		}
		r.Parts = append(r.Parts, pp)
	}
	return r
}

// lag returns, per owned partition, the records not yet committed as
// scored (end offset minus committed position).
func (p *progress) lag(l *offsets.Listing, committed map[int32]int64) map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32]int64{}
	for i := range p.owned {
		end, ok := l.End[i]
		if !ok {
			continue
		}
		pos, known := p.pos[i]
		if c, ok := committed[i]; ok && (!known || c > pos) {
			pos, known = c, true
		}
		if !known {
			pos = l.Start[i]
		}
		out[i] = max(end-pos, 0)
	}
	return out
}

// progressRecords encodes the report once per partition of the partials
// topic (partitions: its partition count).
func progressRecords(topic string, partitions int32, r *window.Progress) ([]*kgo.Record, error) {
	b, err := window.MarshalProgress(r)
	if err != nil {
		return nil, err
	}
	out := make([]*kgo.Record, 0, partitions)
	for q := int32(0); q < partitions; q++ {
		out = append(out, &kgo.Record{Topic: topic, Partition: q, Value: b,
			Headers: []kgo.RecordHeader{{Key: window.HeaderProgress, Value: []byte(strconv.Itoa(window.ProgressVersion))}}})
	}
	return out, nil
}

// committedOffsets are the group's committed offsets of topic.
func committedOffsets(cl *kgo.Client, topic string) map[int32]int64 {
	out := map[int32]int64{}
	for p, eo := range cl.CommittedOffsets()[topic] {
		out[p] = eo.Offset
	}
	return out
}

// partitioner sends progress reports to the partition they name and
// everything else where the default partitioner would (partials are keyed,
// so one key always lands on one partition).
type partitioner struct {
	progressTopic string
	def           kgo.Partitioner
	keyed         kgo.Partitioner
}

func newPartitioner(progressTopic string) kgo.Partitioner {
	return &partitioner{progressTopic: progressTopic, def: kgo.UniformBytesPartitioner(64<<10, true, true, nil),
		keyed: kgo.StickyKeyPartitioner(nil)}
}

func (p *partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic != p.progressTopic {
		return p.def.ForTopic(topic)
	}
	return &progressTopicPartitioner{keyed: p.keyed.ForTopic(topic)}
}

type progressTopicPartitioner struct{ keyed kgo.TopicPartitioner }

func isProgress(r *kgo.Record) bool {
	return len(r.Headers) > 0 && r.Headers[0].Key == window.HeaderProgress
}

func (t *progressTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isProgress(r) || t.keyed.RequiresConsistency(r)
}

func (t *progressTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if isProgress(r) {
		if int(r.Partition) < n {
			return int(r.Partition)
		}
		return n - 1 // the topic shrank under us: never happens in Kafka
	}
	return t.keyed.Partition(r, n)
}

// heartbeatDue: how often an idle stage reports progress. Often while
// traffic was recent (windows wait for the reports to close), rarely after
// a long quiet spell.
func heartbeatDue(sinceEvent time.Duration, interval time.Duration) time.Duration {
	if sinceEvent < 10*time.Minute {
		return interval
	}
	return 15 * interval
}
