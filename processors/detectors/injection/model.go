package injection

import (
	"io"

	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Model is a trained prompt-injection classifier: logistic regression over
// hashed word unigrams, bigrams and character n-grams of the normalized
// prompt plus one dense feature per cue category (see cues.go), on the
// machinery of hashing.Classifier. It is safe for concurrent use.
type Model struct {
	c hashing.Classifier
}

func newModel(lin *hashing.Linear) *Model {
	return &Model{c: hashing.Classifier{Lin: lin, Cues: cues{}}}
}

var magic = [4]byte{'S', 'L', 'P', 'I'}

// WriteTo writes the model in its compact gzip form.
func (m *Model) WriteTo(w io.Writer) (int64, error) { return m.c.WriteTo(w, magic) }

// ReadModel reads a model written by (*Model).WriteTo.
func ReadModel(r io.Reader) (*Model, error) {
	lin, err := hashing.ReadLinear(r, magic)
	if err != nil {
		return nil, err
	}
	return newModel(lin), nil
}

// Score returns the probability in [0,1] that text is a prompt-injection or
// jailbreak attempt. Text longer than 64 KiB is scored on its first 64 KiB.
func (m *Model) Score(text string) float64 { return m.c.Score(text) }

// MaxEvidence bounds how many phrases Evidence returns.
const MaxEvidence = hashing.MaxEvidence

// Evidence appends to dst up to k (at most MaxEvidence) phrases that drove
// the score of text: the cue phrases that matched, strongest category first,
// then, if room is left, the words whose learned weights pushed hardest
// toward an attack (hashing.Classifier.Evidence).
func (m *Model) Evidence(dst []string, text string, k int) []string {
	return m.c.Explain(dst, text, k)
}

// cues are the injection detector's dense features (cues.go).
type cues struct{}

// The cue categories must fit a hashing.CueMatch.
var _ [hashing.MaxCues - numCategories]struct{}

func (cues) Match(m *hashing.CueMatch, norm []byte) { matchCues(m, norm) }
