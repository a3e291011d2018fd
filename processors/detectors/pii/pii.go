package pii

import (
	"slices"
	"strings"
	"sync"

	"github.com/sightline-dev/sightline/processors/detectors"
)

// Config configures the detector. The zero value is the default.
type Config struct {
	// Disabled turns the detector off. Default false.
	Disabled bool
	// Kinds selects the kinds to look for. Default (0): AllKinds.
	Kinds KindSet
	// MaxBytes bounds the bytes scanned of the prompt and of the completion
	// each. Default 256 KiB.
	MaxBytes int
}

func (c Config) withDefaults() Config {
	if c.Kinds == 0 {
		c.Kinds = AllKinds
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 10
	}
	return c
}

// Detector reports the kinds of personal data and secrets in the prompt and
// completion. It is safe for concurrent use.
type Detector struct {
	cfg  Config
	pool sync.Pool
}

var _ detectors.Detector = (*Detector)(nil)

// New returns a detector with cfg (zero fields take their defaults).
func New(cfg Config) *Detector {
	d := &Detector{cfg: cfg.withDefaults()}
	d.pool.New = func() any { s := make([]span, 0, 16); return &s }
	return d
}

// Name returns "pii".
func (d *Detector) Name() string { return "pii" }

// OutKinds is the position of the detector's only output.
const OutKinds = 0

const numOutputs = 1 // how many (Detect checks out against it without building Outputs)

// Outputs declares the detector's output: the kinds found (the eval key
// stays "pii"), a windowed rate, exported with the kinds as its label.
func Outputs() []detectors.Output {
	return []detectors.Output{OutKinds: {Name: "pii_kinds", Key: "pii", Kind: detectors.Kinds, Rate: "pii", Eval: &detectors.Eval{Name: "pii"}}}
}

// Outputs declares the output.
func (d *Detector) Outputs() []detectors.Output { return Outputs() }

// Detect implements detectors.Detector: it sets pii_kinds to the sorted,
// unique names of the kinds found (none: an empty list). Values are never stored.
func (d *Detector) Detect(in *detectors.Input, out detectors.Out) error {
	if d.cfg.Disabled || in == nil || len(out) < numOutputs {
		return nil
	}
	found := d.Find(in.Prompt) | d.Find(in.Completion)
	if found == 0 {
		out.SetList(OutKinds, nil)
		return nil
	}
	out.SetList(OutKinds, kindNamesOf(found))
	return nil
}

// Find returns the set of configured kinds found in s.
func (d *Detector) Find(s string) KindSet {
	if len(s) > d.cfg.MaxBytes {
		s = s[:d.cfg.MaxBytes]
	}
	sp := d.pool.Get().(*[]span)
	spans := scan((*sp)[:0], s, d.cfg.Kinds)
	var set KindSet
	for _, x := range spans {
		set |= 1 << x.kind
	}
	*sp = spans[:0]
	d.pool.Put(sp)
	return set
}

// kindNamesOf returns the names of the kinds of set in sorted order. The
// names are constants, so the slice is the only allocation.
func kindNamesOf(set KindSet) []string {
	out := make([]string, 0, 4)
	for k := Kind(0); k < numKinds; k++ {
		if set.Has(k) {
			out = append(out, kindNames[k])
		}
	}
	return out
}

// Redact replaces every value of the kinds in kinds found in s by
// "[REDACTED:<kind>]" and returns the result and the kinds it replaced
// (sorted, unique). Overlapping findings are merged into the first, longest
// one. s is returned unchanged (no copy) when nothing is found.
func Redact(s string, kinds KindSet) (string, []Kind) {
	spans := scan(nil, s, kinds)
	if len(spans) == 0 {
		return s, nil
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	var found KindSet
	last := 0
	for _, x := range spans {
		if x.start < last {
			continue // overlaps a span already replaced
		}
		b.WriteString(s[last:x.start])
		b.WriteString("[REDACTED:")
		b.WriteString(kindNames[x.kind])
		b.WriteByte(']')
		last = x.end
		found |= 1 << x.kind
	}
	b.WriteString(s[last:])
	return b.String(), found.Kinds()
}
