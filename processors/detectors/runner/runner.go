// Package runner runs the detectors over one event: it builds the
// detectors' text view of the event, isolates each detector's failures
// (an error or a panic marks that detector's scores missing for the event
// and is counted), and redacts personal data out of the evidence before it
// is stored. The score stage and `sightline eval` share it, so offline and
// streaming scores are the same.
package runner

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/pii"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// Scorer scores events. It keeps scratch buffers, so use one per goroutine.
type Scorer struct {
	dets    []detectors.Detector
	schema  *detectors.Schema
	err     error // an invalid declaration: every detector fails
	base    []int // dets[i] writes schema outputs base[i]:base[i+1]
	evid    []int // the schema's Evidence outputs
	onError func(name string, err error)
	prompt  []byte
	compl   []byte
	slab    []detectors.Value // values handed out to scores, a batch at a time
}

// slabEvents is how many events' values one allocation holds: scores kept
// by the stage for a batch share a few allocations instead of one each.
const slabEvents = 256

// New returns a scorer running dets in order; onError (may be nil) is
// called for each detector failure, never with event content. The scores
// follow the schema of dets' outputs (Schema).
func New(dets []detectors.Detector, onError func(name string, err error)) *Scorer {
	s := &Scorer{dets: dets, onError: onError, base: make([]int, len(dets)+1)}
	s.schema, s.err = detectors.NewSchema(dets)
	if s.err != nil {
		s.schema, _ = detectors.SchemaOf(nil)
		return s
	}
	for i, d := range dets {
		s.base[i+1] = s.base[i] + len(d.Outputs())
	}
	for i := 0; i < s.schema.Len(); i++ {
		if s.schema.Output(i).Kind == detectors.Evidence {
			s.evid = append(s.evid, i)
		}
	}
	return s
}

// Schema is the list of outputs the scores hold.
func (s *Scorer) Schema() *detectors.Schema { return s.schema }

// Func is Score without the failures, the shape the offline reports and
// the reference-file baseline take (window.ScoreFunc).
func (s *Scorer) Func() func(ev *eventpb.Event, out *detectors.Scores) {
	return func(ev *eventpb.Event, out *detectors.Scores) { s.Score(ev, out) }
}

// values returns n unset values for one event's scores: out's own when it
// already has room for this schema (a caller that reuses its scores), else
// a slice of the slab, never shared with other scores.
func (s *Scorer) values(out *detectors.Scores, n int) []detectors.Value {
	if out.Schema == s.schema && cap(out.Values) >= n {
		v := out.Values[:n]
		clear(v)
		return v
	}
	if len(s.slab) < n {
		s.slab = make([]detectors.Value, n*slabEvents)
	}
	v := s.slab[:n:n]
	s.slab = s.slab[n:]
	return v
}

// Score fills out for ev and returns the names of detectors that failed.
// Evidence strings in out are safe to keep; nothing else refers to ev.
func (s *Scorer) Score(ev *eventpb.Event, out *detectors.Scores) (failed []string) {
	n := s.schema.Len()
	*out = detectors.Scores{Schema: s.schema, Values: s.values(out, n)}
	if len(s.dets) == 0 {
		return nil
	}
	if s.err != nil {
		for _, d := range s.dets {
			failed = append(failed, d.Name())
			if s.onError != nil {
				s.onError(d.Name(), s.err)
			}
		}
		return failed
	}
	in := s.input(ev)
	for i, d := range s.dets {
		o := detectors.Out(out.Values[s.base[i]:s.base[i+1]])
		if err := run(d, &in, o); err != nil {
			// A failed detector's half-written outputs are dropped: they
			// are stored as NULL and the detector is named instead.
			clear(o)
			failed = append(failed, d.Name())
			if s.onError != nil {
				s.onError(d.Name(), err)
			}
		}
	}
	for _, i := range s.evid {
		redactEvidence(out.Values[i].List)
	}
	return failed
}

func run(d detectors.Detector, in *detectors.Input, out detectors.Out) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("detector %s panicked", d.Name())
		}
	}()
	return d.Detect(in, out)
}

// redactEvidence replaces any personal data inside evidence strings (an
// unsupported span or a toxic phrase may quote an e-mail address or a card
// number, and raw PII values are never stored) and copies each string, since
// a detector may return a substring of the input, which aliases the
// scorer's reused buffers.
func redactEvidence(ev []string) {
	for i, s := range ev {
		if r, kinds := pii.Redact(s, pii.AllKinds); len(kinds) > 0 {
			s = r
		}
		ev[i] = maskLoose(s)
	}
}

// maskLoose masks what may be a fragment of personal data that the PII
// scanners no longer recognise once a detector has normalised it (an e-mail
// address without its dots, a long number without its separators): any
// word with an '@' and any run of 6 or more digits. It always returns a
// copy.
func maskLoose(s string) string {
	if !strings.ContainsAny(s, "@0123456789") {
		return strings.Clone(s)
	}
	words := strings.Fields(s)
	for i, w := range words {
		digits := 0
		for j := 0; j < len(w); j++ {
			if w[j] >= '0' && w[j] <= '9' {
				digits++
			}
		}
		if strings.Contains(w, "@") || digits >= 6 {
			words[i] = "[REDACTED]"
		}
	}
	return strings.Join(words, " ")
}

// input builds the detectors' view of ev. The strings alias the scorer's
// buffers and ev, valid until the next call.
func (s *Scorer) input(ev *eventpb.Event) detectors.Input {
	in := detectors.Input{Context: ev.GetContext(), Reference: ev.GetReference()}
	in.Prompt, s.prompt = join(s.prompt, ev.GetPrompt())
	in.Completion, s.compl = join(s.compl, ev.GetCompletion())
	for i := len(ev.GetPrompt()) - 1; i >= 0; i-- {
		if ev.GetPrompt()[i].GetRole() == "user" {
			in.Question = ev.GetPrompt()[i].GetContent()
			break
		}
	}
	return in
}

// InputOf builds the detectors' view of ev without reusing buffers.
func InputOf(ev *eventpb.Event) detectors.Input {
	var s Scorer
	return s.input(ev)
}

func join(buf []byte, msgs []*eventpb.Message) (string, []byte) {
	switch len(msgs) {
	case 0:
		return "", buf
	case 1:
		return msgs[0].GetContent(), buf
	}
	buf = buf[:0]
	for i, m := range msgs {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, m.GetContent()...)
	}
	if len(buf) == 0 {
		return "", buf
	}
	return unsafe.String(&buf[0], len(buf)), buf
}
