package sightlineexporter

import (
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// The joiner makes one call of a span and the GenAI log events that carry
// its trace and span id. Instrumentations that record content as log
// events (the OpenTelemetry openai instrumentations: per-message events,
// or gen_ai.client.inference.operation.details) put the model, tokens and
// timing on the span and the prompt and completion in the logs; the two
// travel in different pipelines and arrive in either order, seconds
// apart.
//
// What waits, and for how long:
//
//   - a span without content waits for its log events, up to join.wait;
//     it is produced as soon as they bring a completion (or at once if
//     the span failed);
//   - log events with trace and span id wait for their span, up to
//     join.wait; when none comes, the call is made of the log events
//     alone (and dropped as missing_model if they name no model);
//   - a span with content is produced at once; log events of a call
//     already produced are counted (late_log_events), not produced again;
//   - at most join.max_pending calls wait: beyond, the one that has waited
//     longest is produced at once (pending_full).
//
// Calls whose wait ended are produced by the exporter's flusher
// goroutine, never by a push, so a push's retry never repeats them; the
// flusher retries a batch the brokers refused. Every call is produced at
// most once per trace and span id (within the memory of produced calls).
//
// A joiner is safe for concurrent use.
type joiner struct {
	wait time.Duration
	max  int
	now  func() time.Time
	tr   *translator // without arena: what it makes is owned
	tel  *telemetry
	// wake is signalled when calls are ready, so the flusher produces
	// them without waiting for its tick.
	wake chan struct{}

	mu       sync.Mutex
	entries  map[callKey]*joinEntry // waiting and ready calls
	fifo     []*joinEntry           // waiting calls, oldest first; others are skipped
	head     int                    // first element of fifo not yet looked at
	nWaiting int
	ready    []*joinEntry // calls to produce, oldest first
	done     doneSet      // calls produced
	seed     maphash.Seed
	tenants  map[string]uint64 // hashes of tenant names
}

// callKey identifies a call across the two signals: its trace and span id
// with a hash of its tenant mixed in, so that log events never join
// another tenant's span (the hash's seed is random: nobody can choose ids
// that meet another tenant's). Three words rather than the ids and the
// tenant's name: every span passes through the maps keyed by it.
type callKey struct{ a, b, c uint64 }

type joinState uint8

const (
	stateWaiting joinState = iota
	stateReady
)

// joinEntry is one call waiting or ready to be produced. Its span and
// logs are owned (no arena memory) and, once it is ready, read only by
// the flusher.
type joinEntry struct {
	key      callKey
	span     *eventpb.Event // nil until the span came
	logs     *logPart       // nil until log events came
	deadline time.Time
	state    joinState
	ev       *eventpb.Event // the call, made once by finalize
	made     bool
}

// logPart is what the log events of one call brought so far: an event
// with labels and content, not yet checked, and where its content came
// from.
type logPart struct {
	ev                  *eventpb.Event
	promptSrc, complSrc uint8
	first, last         pcommon.Timestamp
	traceID             pcommon.TraceID
	spanID              pcommon.SpanID
	records             int
}

func newJoiner(cfg JoinConfig, tel *telemetry, tenant string) *joiner {
	return &joiner{
		wait:    cfg.Wait,
		max:     cfg.MaxPending,
		now:     time.Now,
		tr:      &translator{tenant: tenant, tel: tel},
		tel:     tel,
		wake:    make(chan struct{}, 1),
		entries: map[callKey]*joinEntry{},
		seed:    maphash.MakeSeed(),
		tenants: map[string]uint64{},
		// Produced calls are remembered twice as many as may wait: log
		// events arriving a little after their span's call was produced
		// are then still recognized as late.
		done: newDoneSet(2 * cfg.MaxPending),
	}
}

// tick is how often the flusher looks for calls whose wait ended.
func (j *joiner) tick() time.Duration {
	return min(max(j.wait/10, 10*time.Millisecond), time.Second)
}

// key returns the key of a call. Callers hold j.mu.
func (j *joiner) key(tenant string, traceID pcommon.TraceID, spanID pcommon.SpanID) callKey {
	th, ok := j.tenants[tenant]
	if !ok {
		th = maphash.String(j.seed, tenant)
		if len(j.tenants) < 1024 { // beyond, each key hashes its tenant
			j.tenants[strings.Clone(tenant)] = th
		}
	}
	return callKey{
		a: binary.LittleEndian.Uint64(traceID[:8]) ^ th,
		b: binary.LittleEndian.Uint64(traceID[8:]),
		c: binary.LittleEndian.Uint64(spanID[:]),
	}
}

// spanIDs parses the hex ids of a translated span.
func spanIDs(ev *eventpb.Event) (pcommon.TraceID, pcommon.SpanID, bool) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	if len(ev.TraceId) != 32 || len(ev.SpanId) != 16 {
		return tid, sid, false
	}
	if _, err := hex.Decode(tid[:], []byte(ev.TraceId)); err != nil {
		return tid, sid, false
	}
	if _, err := hex.Decode(sid[:], []byte(ev.SpanId)); err != nil {
		return tid, sid, false
	}
	return tid, sid, !tid.IsEmpty() && !sid.IsEmpty()
}

// offerSpans takes the calls of one push's spans (arena memory, valid
// for the push). Those to produce now are appended to direct, the keys of
// those among them that the joiner now counts as produced to keys: the
// caller passes keys to forget should producing them fail.
func (j *joiner) offerSpans(evs, direct []*eventpb.Event, keys []callKey) ([]*eventpb.Event, []callKey) {
	repeated, full := 0, 0
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ev := range evs {
		tid, sid, ok := spanIDs(ev)
		if !ok {
			direct = append(direct, ev)
			continue
		}
		k := j.key(ev.Tenant, tid, sid)
		if j.done.has(k) {
			repeated++
			continue
		}
		var e *joinEntry
		if len(j.entries) > 0 {
			e = j.entries[k]
		}
		content := hasText(ev.Prompt) || hasText(ev.Completion)
		switch {
		case e != nil && (e.span != nil || e.state == stateReady):
			repeated++
		case e != nil: // its log events are waiting
			e.span = own(ev)
			if content || complete(e) {
				j.toReady(e)
			}
		case content:
			j.done.addNew(k)
			direct, keys = append(direct, ev), append(keys, k)
		default:
			admitted, cut := j.admit()
			full += cut
			if !admitted {
				j.done.addNew(k)
				direct, keys = append(direct, ev), append(keys, k)
				continue
			}
			j.hold(&joinEntry{key: k, span: own(ev)})
		}
	}
	j.tel.joined(joinRepeatedSpan, repeated)
	j.tel.joined(joinPendingFull, full)
	return direct, keys
}

// offerLogs takes the calls of one push's log events (owned). Calls to
// produce now are appended to direct, as in offerSpans.
func (j *joiner) offerLogs(parts []*logPart, direct []*eventpb.Event, keys []callKey) ([]*eventpb.Event, []callKey) {
	late, full := 0, 0
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, p := range parts {
		k := j.key(keyTenant(p.ev.Tenant), p.traceID, p.spanID)
		if j.done.has(k) {
			late += p.records
			continue
		}
		e := j.entries[k]
		switch {
		case e != nil && e.state == stateReady:
			late += p.records
		case e != nil:
			if e.logs == nil {
				e.logs = p
			} else {
				mergeLogParts(e.logs, p)
			}
			if e.span != nil && complete(e) {
				j.toReady(e)
			}
		default:
			admitted, cut := j.admit()
			full += cut
			if !admitted {
				// No room to wait for the span: the call as the log
				// events have it.
				if ev := j.logsCall(p); ev != nil {
					j.done.add(k)
					direct, keys = append(direct, ev), append(keys, k)
				}
				continue
			}
			j.hold(&joinEntry{key: k, logs: p})
		}
	}
	j.tel.joined(joinLateEvents, late)
	j.tel.joined(joinPendingFull, full)
	return direct, keys
}

// keyTenant is the tenant as the span's event has it after cutLabels, so
// both halves of a call find the same key.
func keyTenant(t string) string { return validUTF8(schemas.CutUTF8(t, schemas.MaxLabelBytes)) }

// complete reports whether a waiting call has what it waits for: its log
// events brought a completion, or the call failed (then there is none).
func complete(e *joinEntry) bool {
	if e.span == nil || e.logs == nil {
		return false
	}
	return e.logs.complSrc != fromNone || e.span.Error != nil
}

// admit makes room for one more waiting call. When join.max_pending
// calls wait, the oldest is made ready now; when as many are ready but
// not yet produced (the brokers are slow), the new call cannot wait.
// It reports whether the new call may wait and how many calls it cut
// short or refused. Callers hold j.mu.
func (j *joiner) admit() (bool, int) {
	if len(j.ready) >= j.max {
		return false, 1
	}
	if j.nWaiting < j.max {
		return true, 0
	}
	for j.head < len(j.fifo) {
		e := j.fifo[j.head]
		j.fifo[j.head] = nil
		j.head++
		if e.state == stateWaiting {
			j.toReady(e)
			return true, 1
		}
	}
	return true, 0
}

// hold makes e wait. Callers hold j.mu.
func (j *joiner) hold(e *joinEntry) {
	e.deadline = j.now().Add(j.wait)
	j.entries[e.key] = e
	if j.head > 64 && j.head > len(j.fifo)/2 {
		n := copy(j.fifo, j.fifo[j.head:])
		clear(j.fifo[n:])
		j.fifo, j.head = j.fifo[:n], 0
	}
	j.fifo = append(j.fifo, e)
	j.nWaiting++
}

// toReady ends e's wait. Callers hold j.mu.
func (j *joiner) toReady(e *joinEntry) {
	if e.state == stateWaiting {
		j.nWaiting--
	}
	e.state = stateReady
	j.ready = append(j.ready, e)
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// expire ends the wait of calls whose deadline has passed.
func (j *joiner) expire() {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	for j.head < len(j.fifo) {
		e := j.fifo[j.head]
		if e.state == stateWaiting && e.deadline.After(now) {
			return
		}
		j.fifo[j.head] = nil
		j.head++
		if e.state == stateWaiting {
			j.toReady(e)
		}
	}
}

// flushAll ends every wait (shutdown).
func (j *joiner) flushAll() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for ; j.head < len(j.fifo); j.head++ {
		if e := j.fifo[j.head]; e.state == stateWaiting {
			j.toReady(e)
		}
		j.fifo[j.head] = nil
	}
}

// take removes up to n ready calls for the flusher, which returns them
// with settle.
func (j *joiner) take(n int) []*joinEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	n = min(n, len(j.ready))
	if n == 0 {
		return nil
	}
	batch := make([]*joinEntry, n)
	copy(batch, j.ready)
	rest := copy(j.ready, j.ready[n:])
	clear(j.ready[rest:])
	j.ready = j.ready[:rest]
	return batch
}

// settle reports on a batch from take: produced (or dropped for good),
// or to be retried.
func (j *joiner) settle(batch []*joinEntry, produced bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !produced {
		j.ready = append(batch, j.ready...)
		return
	}
	for _, e := range batch {
		delete(j.entries, e.key)
		if e.ev != nil {
			j.done.add(e.key)
		}
		// A call dropped (log events without a model) is not done: its
		// span, should it come late, is still a call.
	}
}

// forget undoes offerSpans' and offerLogs' record of calls whose
// production failed: the push is retried and offers them again.
func (j *joiner) forget(keys []callKey) {
	if len(keys) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, k := range keys {
		j.done.remove(k)
	}
}

// pending returns how many calls wait and how many are ready.
func (j *joiner) pending() (waiting, ready int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.nWaiting, len(j.ready)
}

// finalize makes the call of a ready entry (once: a retried batch
// produces the same event); nil when it is not to be produced (counted).
func (j *joiner) finalize(e *joinEntry) *eventpb.Event {
	if e.made {
		return e.ev
	}
	e.made = true
	switch {
	case e.span != nil && e.logs != nil:
		mergeSpanLogs(e.span, e.logs)
		j.tel.joined(joinMerged, 1)
		if j.tr.limits(e.span) {
			e.ev = e.span
		}
	case e.span != nil:
		dropFinishOnly(e.span)
		j.tel.joined(joinSpanOnly, 1)
		e.ev = e.span
	case e.logs != nil:
		j.tel.joined(joinLogsOnly, 1)
		e.ev = j.logsCall(e.logs)
	}
	e.span, e.logs = nil, nil
	return e.ev
}

// logsCall makes the call of log events whose span did not come; nil when
// it is not to be produced (counted).
func (j *joiner) logsCall(p *logPart) *eventpb.Event {
	ev := p.ev
	j.tr.logTimes(ev, p.traceID, p.spanID, p.first, p.last)
	if !j.tr.finish(ev) {
		return nil
	}
	return ev
}

// hasText reports whether any message has content.
func hasText(msgs []*eventpb.Message) bool {
	for _, m := range msgs {
		if m.Content != "" {
			return true
		}
	}
	return false
}

// dropFinishOnly removes the content-less messages translator.keepFinish
// made, so a span produced without its log events is the event it would
// be without joining.
func dropFinishOnly(ev *eventpb.Event) {
	if len(ev.Completion) > 0 && !hasText(ev.Completion) {
		ev.Completion = nil
	}
}

// mergeSpanLogs fills what the span's event lacks from its log events:
// the span's labels, timing and ids win; the content is the log events'
// where the span has none.
func mergeSpanLogs(span *eventpb.Event, p *logPart) {
	l := p.ev
	mergeLabels(span, l)
	if !hasText(span.Prompt) && len(l.Prompt) > 0 {
		span.Prompt = l.Prompt
	}
	if !hasText(span.Completion) {
		finish := span.Completion // the span's finish reasons, if any
		if len(l.Completion) > 0 {
			span.Completion = l.Completion
			for i, m := range span.Completion {
				if m.FinishReason == "" && i < len(finish) {
					m.FinishReason = finish[i].FinishReason
				}
			}
		} else {
			dropFinishOnly(span)
		}
	}
	if len(span.Context) == 0 {
		span.Context = l.Context
	}
	mergeAttributes(span, l)
	if span.Error == nil {
		span.Error = l.Error
	}
	span.Truncated = span.Truncated || l.Truncated
}

// mergeLogParts adds b, later log events of a call, to a.
func mergeLogParts(a, b *logPart) {
	mergeLabels(a.ev, b.ev)
	a.ev.Prompt, a.promptSrc = mergeMessages(a.ev.Prompt, a.promptSrc, b.ev.Prompt, b.promptSrc)
	a.ev.Completion, a.complSrc = mergeMessages(a.ev.Completion, a.complSrc, b.ev.Completion, b.complSrc)
	a.ev.Context = append(a.ev.Context, b.ev.Context...)
	mergeAttributes(a.ev, b.ev)
	if a.ev.Error == nil {
		a.ev.Error = b.ev.Error
	}
	if a.ev.Sdk == nil {
		a.ev.Sdk = b.ev.Sdk
	}
	a.ev.Truncated = a.ev.Truncated || b.ev.Truncated
	a.first, a.last = min(a.first, b.first), max(a.last, b.last)
	a.records += b.records
}

// mergeMessages joins the messages two batches of log events brought: of
// the same kind of event they add up (per-message events split over two
// pushes, a details event for the input and one for the output); details
// events win over per-message events, as they do within one push.
func mergeMessages(a []*eventpb.Message, aSrc uint8, b []*eventpb.Message, bSrc uint8) ([]*eventpb.Message, uint8) {
	switch {
	case bSrc == fromNone:
		return a, aSrc
	case aSrc == fromNone:
		return b, bSrc
	case aSrc == bSrc:
		return append(a, b...), aSrc
	case aSrc == fromDetails:
		return a, aSrc
	default:
		return b, bSrc
	}
}

// mergeAttributes copies the attributes of src that ev does not have.
func mergeAttributes(ev, src *eventpb.Event) {
	for k, v := range src.Attributes {
		if ev.Attributes == nil {
			ev.Attributes = make(map[string]string, len(src.Attributes))
		}
		if _, ok := ev.Attributes[k]; !ok {
			ev.Attributes[k] = v
		}
	}
}

// own returns a deep copy of ev that shares no memory with the arena it
// was made in (strings included), for a call that outlives its push. The
// strings move into one allocation; TestOwnSharesNothing fails if the
// schema gains a string this does not move.
func own(ev *eventpb.Event) *eventpb.Event {
	c := proto.Clone(ev).(*eventpb.Event)
	n := 0
	eachString(c, func(s *string) { n += len(*s) })
	buf := make([]byte, 0, n)
	eachString(c, func(s *string) {
		if *s == "" {
			return
		}
		start := len(buf)
		buf = append(buf, *s...)
		*s = unsafe.String(&buf[start], len(*s))
	})
	return c
}

// eachString calls f with every string of ev. Map keys and values are
// moved into new maps so f may change them.
func eachString(ev *eventpb.Event, f func(*string)) {
	for _, p := range [...]*string{&ev.EventId, &ev.Tenant, &ev.App, &ev.Environment, &ev.Provider, &ev.Operation,
		&ev.RequestModel, &ev.Model, &ev.TraceId, &ev.SpanId, &ev.ConversationId, &ev.UserId, &ev.Variant,
		&ev.Reference, &ev.ResponseId} {
		f(p)
	}
	for _, ms := range [...][]*eventpb.Message{ev.Prompt, ev.Completion} {
		for _, m := range ms {
			f(&m.Role)
			f(&m.Content)
			f(&m.FinishReason)
		}
	}
	for i := range ev.Context {
		f(&ev.Context[i])
	}
	if e := ev.Error; e != nil {
		f(&e.Type)
		f(&e.Message)
	}
	if t := ev.PromptTemplate; t != nil {
		f(&t.Id)
		f(&t.Version)
	}
	if s := ev.Sdk; s != nil {
		f(&s.Name)
		f(&s.Version)
	}
	if fb := ev.Feedback; fb != nil {
		f(&fb.EventId)
		f(&fb.Label)
		f(&fb.Comment)
	}
	ev.Segments = eachMapString(ev.Segments, f)
	ev.Attributes = eachMapString(ev.Attributes, f)
}

func eachMapString(m map[string]string, f func(*string)) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		f(&k)
		f(&v)
		out[k] = v
	}
	return out
}

// doneSet remembers the keys of the last produced calls, up to a bound:
// the oldest is forgotten first.
type doneSet struct {
	keys map[callKey]struct{}
	ring []callKey
	next int
	size int
}

func newDoneSet(size int) doneSet {
	return doneSet{keys: map[callKey]struct{}{}, size: max(size, 1)}
}

func (d *doneSet) has(k callKey) bool {
	_, ok := d.keys[k]
	return ok
}

func (d *doneSet) add(k callKey) {
	if !d.has(k) {
		d.addNew(k)
	}
}

// addNew adds k, which the caller found absent.
func (d *doneSet) addNew(k callKey) {
	if len(d.ring) < d.size {
		d.ring = append(d.ring, k)
	} else {
		// A key removed and added again has two slots: reusing the
		// older one forgets it early, which only shortens its memory.
		delete(d.keys, d.ring[d.next])
		d.ring[d.next] = k
		d.next = (d.next + 1) % d.size
	}
	d.keys[k] = struct{}{}
}

// remove forgets k (its slot in the ring is reused in turn).
func (d *doneSet) remove(k callKey) { delete(d.keys, k) }
