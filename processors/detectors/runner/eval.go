package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/schemas"
)

// JSONScores is the "scores" object `sightline eval` adds to each event:
// one key per output of the scores' schema, in its order (numbers, null
// when there was nothing to check; flags as booleans; lists as arrays),
// then detector_errors when a detector failed.
type JSONScores struct {
	Scores         *detectors.Scores
	DetectorErrors []string
}

// ToJSONScores converts scores to their JSON form.
func ToJSONScores(s *detectors.Scores, failed []string) JSONScores {
	return JSONScores{Scores: s, DetectorErrors: failed}
}

// MarshalJSON writes the outputs in schema order.
func (j JSONScores) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	s := j.Scores
	for i := 0; i < s.Schema.Len(); i++ {
		o, v := s.Schema.Output(i), &s.Values[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, o.JSONKey())
		b = append(b, ':')
		var val any
		switch {
		case o.Kind == detectors.Flag:
			val = v.Valid && v.Num != 0
		case o.Kind.Numeric() && v.Valid:
			val = v.Num
		case o.Kind.Numeric():
			val = nil
		case v.List == nil:
			val = []string{}
		default:
			val = v.List
		}
		vb, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("cannot encode score %s: %w", o.Name, err)
		}
		b = append(b, vb...)
	}
	if len(j.DetectorErrors) > 0 {
		if s.Schema.Len() > 0 {
			b = append(b, ',')
		}
		vb, err := json.Marshal(j.DetectorErrors)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `"detector_errors":`...), vb...)
	}
	return append(b, '}'), nil
}

type scoredEvent struct {
	*schemas.JSONEvent
	Scores JSONScores `json:"scores"`
}

type lineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Report summarises an eval run.
type Report struct {
	Lines, Scored, Errors int
	// Rates has one entry per output with a rate, in schema order.
	Rates []RateCount
}

// RateCount is the decision of one output over the events scored: the
// same trials and positives a window partial counts.
type RateCount struct {
	Output, Rate string
	// Threshold of a probability (0 for flags and kinds).
	Threshold         float64
	Positives, Trials int
	// Mean of a probability over its trials.
	Mean float64
}

// EvalJSONL scores every event of r (the JSON form, one per line) and
// writes each back to w with a "scores" object. A malformed line becomes
// {"line": N, "error": "..."} and the run goes on. Events need not be
// complete: offline slices are scored as they are. Thresholds are those
// the scorer's detectors were built with.
func EvalJSONL(r io.Reader, w io.Writer, s *Scorer) (Report, error) {
	var rep Report
	schema := s.Schema()
	var rated []int
	for i := 0; i < schema.Len(); i++ {
		if o := schema.Output(i); o.Rate != "" {
			rated = append(rated, i)
			rep.Rates = append(rep.Rates, RateCount{Output: o.Name, Rate: o.Rate, Threshold: o.Threshold})
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), schemas.MaxEncodedBytes)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var scores detectors.Scores
	for sc.Scan() {
		rep.Lines++
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		ev, err := schemas.ParseJSON(line)
		if err != nil {
			rep.Errors++
			if err := enc.Encode(lineError{Line: rep.Lines, Error: err.Error()}); err != nil {
				return rep, fmt.Errorf("cannot write output: %w", err)
			}
			continue
		}
		schemas.Truncate(ev)
		failed := s.Score(ev, &scores)
		rep.Scored++
		for k, i := range rated {
			rc, v := &rep.Rates[k], scores.Values[i]
			if schema.Output(i).Kind == detectors.Probability {
				if !v.Valid {
					continue
				}
				rc.Mean += v.Num
			}
			rc.Trials++
			if scores.Decided(i) {
				rc.Positives++
			}
		}
		if err := enc.Encode(scoredEvent{JSONEvent: schemas.ToJSON(ev), Scores: ToJSONScores(&scores, failed)}); err != nil {
			return rep, fmt.Errorf("cannot write output: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		bw.Flush()
		return rep, fmt.Errorf("cannot read input at line %d: %w", rep.Lines+1, err)
	}
	for k := range rep.Rates {
		if rc := &rep.Rates[k]; rc.Trials > 0 {
			rc.Mean /= float64(rc.Trials)
		}
	}
	return rep, bw.Flush()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
