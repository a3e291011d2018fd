// Package scoring runs the detectors over one event: it builds the
// detectors' text view of the event, isolates each detector's failures
// (an error or a panic marks that detector's scores missing for the event
// and is counted), and redacts personal data out of the evidence before it
// is stored. The score stage and `sightline eval` share it, so offline and
// streaming scores are the same.
package scoring

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/sightline-dev/sightline/processors/detector"
	"github.com/sightline-dev/sightline/processors/pii"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// Scorer scores events. It keeps scratch buffers, so use one per goroutine.
type Scorer struct {
	dets    []detector.Detector
	onError func(name string, err error)
	prompt  []byte
	compl   []byte
}

// New returns a scorer running dets in order; onError (may be nil) is
// called for each detector failure, never with event content.
func New(dets []detector.Detector, onError func(name string, err error)) *Scorer {
	return &Scorer{dets: dets, onError: onError}
}

// Func is Score without the failures, the shape the offline reports and
// the reference-file baseline take (window.ScoreFunc).
func (s *Scorer) Func() func(ev *eventpb.Event, out *detector.Scores) {
	return func(ev *eventpb.Event, out *detector.Scores) { s.Score(ev, out) }
}

// Score fills out for ev and returns the names of detectors that failed.
// Evidence strings in out are safe to keep; nothing else refers to ev.
func (s *Scorer) Score(ev *eventpb.Event, out *detector.Scores) (failed []string) {
	*out = detector.Scores{}
	if len(s.dets) == 0 {
		return nil
	}
	in := s.input(ev)
	for _, d := range s.dets {
		// A failed detector's half-written scores are dropped by putting
		// back what the others wrote before it (each writes only its own
		// fields), whatever fields it owns.
		saved := *out
		if err := run(d, &in, out); err != nil {
			failed = append(failed, d.Name())
			*out = saved
			if s.onError != nil {
				s.onError(d.Name(), err)
			}
		}
	}
	redactEvidence(out.ToxicityEvidence)
	redactEvidence(out.UnsupportedSpans)
	redactEvidence(out.InjectionEvidence)
	return failed
}

func run(d detector.Detector, in *detector.Input, out *detector.Scores) (err error) {
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
func (s *Scorer) input(ev *eventpb.Event) detector.Input {
	in := detector.Input{Context: ev.GetContext(), Reference: ev.GetReference()}
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
func InputOf(ev *eventpb.Event) detector.Input {
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
