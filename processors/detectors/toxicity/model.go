package toxicity

import (
	"io"

	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Model is a trained toxicity classifier: logistic regression over hashed
// word unigrams, word bigrams and character n-grams of the normalized text
// (see hashing.Normalize), on the machinery of hashing.Classifier. It is
// safe for concurrent use.
type Model struct {
	c hashing.Classifier
}

func newModel(lin *hashing.Linear) *Model {
	return &Model{c: hashing.Classifier{Lin: lin, Bigrams: true}}
}

var magic = [4]byte{'S', 'L', 'T', 'X'}

// WriteTo writes the model in its compact gzip form (about 0.5–1 MB).
func (m *Model) WriteTo(w io.Writer) (int64, error) { return m.c.WriteTo(w, magic) }

// ReadModel reads a model written by (*Model).WriteTo.
func ReadModel(r io.Reader) (*Model, error) {
	lin, err := hashing.ReadLinear(r, magic)
	if err != nil {
		return nil, err
	}
	return newModel(lin), nil
}

// Score returns the probability in [0,1] that text is toxic. Text longer than
// 64 KiB is scored on its first 64 KiB.
func (m *Model) Score(text string) float64 { return m.c.Score(text) }

// MaxEvidence bounds how many terms Evidence returns.
const MaxEvidence = hashing.MaxEvidence

// Evidence appends to dst up to k (at most MaxEvidence) distinct terms or
// two-word phrases of text that pushed its score toward toxic the most,
// strongest first, in normalized (lowercased) form; terms with digits and
// function words are never reported (hashing.Classifier.Evidence).
func (m *Model) Evidence(dst []string, text string, k int) []string {
	return m.c.Explain(dst, text, k)
}
