// Package detectors defines the contract between the score stage and the
// per-event detectors, and the declaration of what each detector produces.
// The detectors themselves are its subpackages (processors/detectors/<name>),
// registry lists them and runner runs them over one event; this package
// imports none of them.
//
// A detector is one package implementing Detector. It declares its outputs
// once (Output: name, kind, ClickHouse column, default threshold, windowed
// rate, OpenTelemetry export); the llm_events row, the offline `sightline
// eval` JSON, the gen_ai.evaluation.result export and the per-window rates
// all follow that list, so none of them names a detector's output.
//
// A detector must be safe for concurrent use, must never panic on any input
// (invalid UTF-8, huge strings, empty fields), must not log event content,
// and must never put a raw PII value into its outputs. A detector that
// cannot score an event returns an error; the runner then drops what it
// wrote for that event (stored as NULL) and counts it.
//
// # Adding a detector
//
// One package, one registry line, one migration:
//
//  1. A package under processors/detectors/<name> with a Detector whose
//     Outputs() returns its outputs, and whose Detect writes them by their
//     position in that list (out.Set(0, p), out.SetList(1, terms), ...).
//  2. One entry in processors/detectors/registry (its name, outputs and how
//     to build it from its detectors.<name> settings).
//  3. One migration in schemas/migrations/sql adding each output's column
//     to llm_events (ColumnType says which type) and recreating the
//     llm_events_dedup view.
//
// Then the score stage stores the outputs in those columns, `sightline eval`
// writes them under their names, outputs with Eval are exported as
// gen_ai.evaluation.result events, and outputs with a Rate become windowed
// rates (with bias and A/B tests) whose threshold is detectors.<name>.threshold.
// A declared output without its column fails the tests of sinks/clickhouse.
// TestExampleDetector in internal/newdetector walks this path with a
// detector that exists only in the test.
package detectors

import (
	"fmt"
	"regexp"
)

// Input is the text view of one event that detectors score. Strings are
// read-only; detectors must not retain them after Detect returns.
type Input struct {
	// Prompt is the concatenated content of all prompt messages.
	Prompt string
	// Question is the content of the last user message (for RAG checks the
	// question's own terms count as supported).
	Question string
	// Completion is the concatenated content of all completion messages.
	Completion string
	// Context holds the retrieved passages (RAG), if any.
	Context []string
	// Reference is the expected answer, if any.
	Reference string
}

// Detector scores one event.
type Detector interface {
	// Name is the detector's name in the config file (detectors.<name>)
	// and in detector_errors.
	Name() string
	// Outputs declares what Detect writes, in the order of its indices.
	// Thresholds are the ones the detector was built with.
	Outputs() []Output
	// Detect writes its outputs of one event into out (len(Outputs())
	// values, all unset on entry). It returns an error only when it could
	// not score the event; it must not panic.
	Detect(in *Input, out Out) error
}

// Kind is what an output holds.
type Kind uint8

// Output kinds.
const (
	// Probability is a score in [0,1]. With a Threshold it decides: a
	// value at or above it is positive.
	Probability Kind = iota + 1
	// Flag is a yes/no decision the detector makes itself.
	Flag
	// Kinds is a sorted set of labels (the kinds of personal data found);
	// a non-empty set is positive.
	Kinds
	// Metric is a number without a decision (a similarity to the
	// reference, a supported fraction).
	Metric
	// Evidence lists short strings that explain another output (terms,
	// unsupported spans). Personal data in them is redacted before they
	// leave the scorer.
	Evidence
)

var kindNames = [...]string{Probability: "probability", Flag: "flag", Kinds: "kinds", Metric: "metric", Evidence: "evidence"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Numeric reports whether the kind's value is Value.Num (else Value.List).
func (k Kind) Numeric() bool { return k == Probability || k == Flag || k == Metric }

// ColumnType is the llm_events column type an output of kind k needs.
func (k Kind) ColumnType() string {
	switch k {
	case Probability, Metric:
		return "Nullable(Float32)"
	case Flag:
		return "UInt8"
	default:
		return "Array(String)"
	}
}

// Output declares one output of a detector.
type Output struct {
	// Name is unique across all detectors: the llm_events column and the
	// key in the "scores" object of `sightline eval`.
	Name string
	Kind Kind
	// Key is the key in the "scores" object of `sightline eval` when it
	// is not Name (pii_kinds keeps its older key "pii").
	Key string
	// Threshold is the default decision threshold of a Probability (0: it
	// decides nothing). detectors.<detector>.threshold replaces it for
	// every output of the detector that has one, and the detector, its
	// windowed rate, `sightline eval` and the exported label all use that
	// one value.
	Threshold float64
	// Rate names the per-window outcome this output decides (rates with
	// intervals, bias across segment groups, A/B), "" for none. A
	// Probability counts the events it scored as trials and those at or
	// above Threshold as positives; a Flag or Kinds output counts every
	// event its detector scored.
	Rate string
	// Eval exports the output as a gen_ai.evaluation.result event; nil
	// keeps it out of the export.
	Eval *Eval
}

// Eval says how an output is exported as gen_ai.evaluation.result.
type Eval struct {
	// Name is gen_ai.evaluation.name.
	Name string
	// Positive and Negative are gen_ai.evaluation.score.label of a decided
	// value (a Probability at or above its threshold, a Flag); a Metric is
	// labelled Positive. A Kinds output is labelled with the kinds found,
	// its value is their number, and it is exported only when non-empty.
	Positive, Negative string
	// Explanation names an Evidence output of the same detector whose
	// items, joined with "; ", become gen_ai.evaluation.explanation.
	Explanation string
	// CountOnly sends only the number of explanation items ("3
	// unsupported spans"): for evidence that quotes the completion.
	CountOnly bool
}

// JSONKey is the key in the "scores" object of `sightline eval`.
func (o *Output) JSONKey() string {
	if o.Key != "" {
		return o.Key
	}
	return o.Name
}

// Value is one output's value for one event.
type Value struct {
	Num   float64  // Probability, Metric; 1 or 0 for a Flag
	List  []string // Kinds, Evidence
	Valid bool     // the detector wrote it
}

// Out is where a detector writes its outputs, indexed as its Outputs().
type Out []Value

// Set stores a number (Probability, Metric).
func (o Out) Set(i int, v float64) { o[i].Num, o[i].Valid = v, true }

// SetFlag stores a Flag.
func (o Out) SetFlag(i int, b bool) {
	o[i].Num, o[i].Valid = 0, true
	if b {
		o[i].Num = 1
	}
}

// SetList stores a Kinds or Evidence list.
func (o Out) SetList(i int, l []string) { o[i].List, o[i].Valid = l, true }

// Schema is the list of outputs of a set of detectors, in their order. It
// is immutable once built; scores refer to it.
type Schema struct {
	outputs []Output
	index   map[string]int
}

// NewSchema lists the outputs of dets in order. It fails on an invalid
// declaration (see Validate).
func NewSchema(dets []Detector) (*Schema, error) {
	var outs []Output
	for _, d := range dets {
		outs = append(outs, d.Outputs()...)
	}
	return SchemaOf(outs)
}

// SchemaOf is the schema of outputs.
func SchemaOf(outs []Output) (*Schema, error) {
	if err := Validate(outs); err != nil {
		return nil, err
	}
	s := &Schema{outputs: append([]Output(nil), outs...), index: make(map[string]int, len(outs))}
	for i, o := range outs {
		s.index[o.Name] = i
	}
	return s, nil
}

// Len is the number of outputs.
func (s *Schema) Len() int {
	if s == nil {
		return 0
	}
	return len(s.outputs)
}

// Output returns output i.
func (s *Schema) Output(i int) *Output { return &s.outputs[i] }

// Outputs returns a copy of the outputs.
func (s *Schema) Outputs() []Output {
	if s == nil {
		return nil
	}
	return append([]Output(nil), s.outputs...)
}

// Index returns the position of the output named name, or -1.
func (s *Schema) Index(name string) int {
	if s == nil {
		return -1
	}
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Validate checks a list of outputs: names that can be columns, unique
// names and rates, thresholds in (0, 1] and only on probabilities, rates
// only on decisions, explanations that name an Evidence output.
func Validate(outs []Output) error {
	names, keys, rates := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, o := range outs {
		switch {
		case !nameRE.MatchString(o.Name):
			return fmt.Errorf("cannot declare output %q: a name is lower case letters, digits and _ (it is a column name)", o.Name)
		case names[o.Name]:
			return fmt.Errorf("cannot declare output %q twice", o.Name)
		case keys[o.JSONKey()] || o.JSONKey() == "detector_errors":
			return fmt.Errorf("cannot declare output %q: its key %q is taken", o.Name, o.JSONKey())
		case o.Kind < Probability || o.Kind > Evidence:
			return fmt.Errorf("cannot declare output %q: unknown kind %d", o.Name, o.Kind)
		case o.Threshold != 0 && o.Kind != Probability:
			return fmt.Errorf("cannot declare output %q: only a probability has a threshold", o.Name)
		case o.Threshold < 0 || o.Threshold > 1:
			return fmt.Errorf("cannot declare output %q: threshold %v is outside (0, 1]", o.Name, o.Threshold)
		case o.Rate != "" && !(o.Kind == Flag || o.Kind == Kinds || (o.Kind == Probability && o.Threshold > 0)):
			return fmt.Errorf("cannot declare output %q: a rate needs a decision (a flag, kinds, or a probability with a threshold)", o.Name)
		case o.Rate != "" && (!nameRE.MatchString(o.Rate) || rates[o.Rate]):
			return fmt.Errorf("cannot declare output %q: rate %q is not a valid name or is declared twice", o.Name, o.Rate)
		case o.Eval != nil && (o.Eval.Name == "" || o.Kind == Evidence):
			return fmt.Errorf("cannot declare output %q: an exported output needs an evaluation name and cannot be evidence", o.Name)
		}
		names[o.Name], keys[o.JSONKey()] = true, true
		if o.Rate != "" {
			rates[o.Rate] = true
		}
	}
	for _, o := range outs {
		if o.Eval == nil || o.Eval.Explanation == "" {
			continue
		}
		found := false
		for _, e := range outs {
			found = found || (e.Name == o.Eval.Explanation && e.Kind == Evidence)
		}
		if !found {
			return fmt.Errorf("cannot declare output %q: its explanation %q is not an evidence output", o.Name, o.Eval.Explanation)
		}
	}
	return nil
}

// Scores are the outputs of one event: Values[i] is Schema output i.
type Scores struct {
	Schema *Schema
	Values []Value
}

// Get returns the value of the output named name (ok false when the
// schema has no such output).
func (s *Scores) Get(name string) (Value, bool) {
	if s == nil {
		return Value{}, false
	}
	i := s.Schema.Index(name)
	if i < 0 || i >= len(s.Values) {
		return Value{}, false
	}
	return s.Values[i], true
}

// Decided reports whether output i of s is positive by its declaration: a
// Probability at or above its threshold, a set Flag, non-empty Kinds.
func (s *Scores) Decided(i int) bool {
	v, o := &s.Values[i], s.Schema.Output(i)
	switch o.Kind {
	case Probability:
		return v.Valid && o.Threshold > 0 && v.Num >= o.Threshold
	case Flag:
		return v.Valid && v.Num != 0
	case Kinds:
		return len(v.List) > 0
	}
	return false
}

// NewScores returns scores of schema with every output unset, for code
// that fills scores by name (tests, replays); the scorer fills them by
// position.
func NewScores(schema *Schema) Scores {
	return Scores{Schema: schema, Values: make([]Value, schema.Len())}
}

func (s *Scores) at(name string) *Value {
	i := s.Schema.Index(name)
	if i < 0 || i >= len(s.Values) {
		return nil
	}
	return &s.Values[i]
}

// Set stores a number by output name; false when the schema has no such
// output.
func (s *Scores) Set(name string, v float64) bool {
	p := s.at(name)
	if p != nil {
		p.Num, p.Valid = v, true
	}
	return p != nil
}

// SetFlag stores a flag by output name.
func (s *Scores) SetFlag(name string, b bool) bool {
	if !s.Set(name, 0) {
		return false
	}
	if b {
		s.Set(name, 1)
	}
	return true
}

// SetList stores a list by output name.
func (s *Scores) SetList(name string, l []string) bool {
	p := s.at(name)
	if p != nil {
		p.List, p.Valid = l, true
	}
	return p != nil
}
