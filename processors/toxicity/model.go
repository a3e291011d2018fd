package toxicity

import (
	"io"
	"sync"

	"github.com/sightline-dev/sightline/processors/internal/hashing"
)

// Model is a trained toxicity classifier: logistic regression over hashed
// word unigrams, word bigrams and character n-grams of the normalized text
// (see hashing.Normalize). It is safe for concurrent use.
type Model struct {
	lin *hashing.Linear
}

var magic = [4]byte{'S', 'L', 'T', 'X'}

// WriteTo writes the model in its compact gzip form (about 0.5–1 MB).
func (m *Model) WriteTo(w io.Writer) (int64, error) { return m.lin.WriteTo(w, magic) }

// ReadModel reads a model written by (*Model).WriteTo.
func ReadModel(r io.Reader) (*Model, error) {
	lin, err := hashing.ReadLinear(r, magic)
	if err != nil {
		return nil, err
	}
	return &Model{lin: lin}, nil
}

// scratch holds the per-call buffers; pooling them keeps scoring free of
// allocations once the pool is warm.
type scratch struct {
	norm  []byte
	feats []uint32
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{norm: make([]byte, 0, 4096), feats: make([]uint32, 0, 8192)}
}}

// maxScoreBytes bounds the text Score looks at; beyond it the cost would grow
// without changing a length-normalized score much.
const maxScoreBytes = 64 << 10

// Score returns the probability in [0,1] that text is toxic. Text longer than
// 64 KiB is scored on its first 64 KiB.
func (m *Model) Score(text string) float64 {
	s := scratchPool.Get().(*scratch)
	z := m.margin(s, text)
	scratchPool.Put(s)
	return hashing.Sigmoid(z)
}

func (m *Model) margin(s *scratch, text string) float64 {
	if len(text) > maxScoreBytes {
		text = text[:maxScoreBytes]
	}
	s.norm = hashing.Normalize(s.norm[:0], text)
	s.feats = m.lin.Features.Extract(s.feats[:0], s.norm)
	return m.lin.Margin(s.feats)
}
