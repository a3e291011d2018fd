package hashing

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Linear is a logistic-regression model over hashed features:
//
//	p = 1 / (1 + exp(-(Bias + Scale·Σ_f W[f] / sqrt(n))))
//
// where the sum runs over the n features of a text (repeats included), so
// the feature vector has roughly unit L2 norm whatever the text's length.
// Weights are stored quantized to int16 with one scale, which halves the
// table against float32 and keeps it in cache on the scoring path.
type Linear struct {
	Features Features
	Bias     float32
	Scale    float32
	W        []int16
	// Extra holds the weights of the dense 0/1 features (see Sample.Extra),
	// added to the margin without length normalization.
	Extra []float32
}

// Margin returns the log-odds of feats (buckets from Features.Extract).
// An empty feature list scores the bias alone.
func (m *Linear) Margin(feats []uint32) float64 {
	if len(feats) == 0 {
		return float64(m.Bias)
	}
	w := m.W
	mask := uint32(len(w) - 1)
	var sum int64
	for _, f := range feats {
		sum += int64(w[f&mask])
	}
	return float64(m.Bias) + float64(m.Scale)*float64(sum)/math.Sqrt(float64(len(feats)))
}

// MarginExtra is Margin plus the weights of the dense features present.
// Indexes out of range are ignored.
func (m *Linear) MarginExtra(feats []uint32, extra []uint8) float64 {
	z := m.Margin(feats)
	for _, e := range extra {
		if int(e) < len(m.Extra) {
			z += float64(m.Extra[e])
		}
	}
	return z
}

// Weight returns the dequantized weight of one bucket.
func (m *Linear) Weight(f uint32) float64 {
	return float64(m.Scale) * float64(m.W[f&uint32(len(m.W)-1)])
}

// Sigmoid maps a log-odds to a probability in [0,1], never NaN.
func Sigmoid(z float64) float64 {
	if math.IsNaN(z) {
		return 0.5
	}
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

const (
	formatVersion = 1
	maxBits       = 24
)

// WriteTo writes m as gzip of a little-endian header (magic, version,
// feature settings, bias, scale) followed by the int16 weights. The gzip
// header carries no name or time, so equal models give equal bytes.
func (m *Linear) WriteTo(w io.Writer, magic [4]byte) (int64, error) {
	cw := &countWriter{w: w}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
	if err != nil {
		return 0, fmt.Errorf("cannot create gzip writer: %w", err)
	}
	bw := bufio.NewWriter(zw)
	var hdr [4 + 1 + 5 + 4 + 4 + 4]byte
	copy(hdr[:4], magic[:])
	hdr[4] = formatVersion
	hdr[5] = m.Features.Bits
	hdr[6] = boolByte(m.Features.Words)
	hdr[7] = boolByte(m.Features.Bigrams)
	hdr[8] = m.Features.CharMin
	hdr[9] = m.Features.CharMax
	binary.LittleEndian.PutUint32(hdr[10:], math.Float32bits(m.Bias))
	binary.LittleEndian.PutUint32(hdr[14:], math.Float32bits(m.Scale))
	binary.LittleEndian.PutUint32(hdr[18:], uint32(len(m.W)))
	if _, err := bw.Write(hdr[:]); err != nil {
		return cw.n, fmt.Errorf("cannot write model header: %w", err)
	}
	if len(m.Extra) > 255 {
		return cw.n, errors.New("cannot write model: more than 255 extra features")
	}
	if err := bw.WriteByte(byte(len(m.Extra))); err != nil {
		return cw.n, fmt.Errorf("cannot write model header: %w", err)
	}
	var b4 [4]byte
	for _, v := range m.Extra {
		binary.LittleEndian.PutUint32(b4[:], math.Float32bits(v))
		if _, err := bw.Write(b4[:]); err != nil {
			return cw.n, fmt.Errorf("cannot write model weights: %w", err)
		}
	}
	var b [2]byte
	for _, v := range m.W {
		binary.LittleEndian.PutUint16(b[:], uint16(v))
		if _, err := bw.Write(b[:]); err != nil {
			return cw.n, fmt.Errorf("cannot write model weights: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("cannot write model weights: %w", err)
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("cannot finish model stream: %w", err)
	}
	return cw.n, nil
}

// ReadLinear reads a model written by WriteTo with the same magic.
func ReadLinear(r io.Reader, magic [4]byte) (*Linear, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("cannot open model stream: %w", err)
	}
	defer zr.Close()
	var hdr [22]byte
	if _, err := io.ReadFull(zr, hdr[:]); err != nil {
		return nil, fmt.Errorf("cannot read model header: %w", err)
	}
	if [4]byte(hdr[:4]) != magic {
		return nil, fmt.Errorf("cannot read model: bad magic %q, want %q", hdr[:4], magic[:])
	}
	if hdr[4] != formatVersion {
		return nil, fmt.Errorf("cannot read model: unsupported version %d", hdr[4])
	}
	m := &Linear{
		Features: Features{Bits: hdr[5], Words: hdr[6] != 0, Bigrams: hdr[7] != 0, CharMin: hdr[8], CharMax: hdr[9]},
		Bias:     math.Float32frombits(binary.LittleEndian.Uint32(hdr[10:])),
		Scale:    math.Float32frombits(binary.LittleEndian.Uint32(hdr[14:])),
	}
	n := binary.LittleEndian.Uint32(hdr[18:])
	if !m.Features.Valid() || m.Features.Bits > maxBits || n != 1<<m.Features.Bits {
		return nil, errors.New("cannot read model: invalid feature settings")
	}
	if !finite32(m.Bias) || !finite32(m.Scale) {
		return nil, errors.New("cannot read model: non-finite bias or scale")
	}
	var ne [1]byte
	if _, err := io.ReadFull(zr, ne[:]); err != nil {
		return nil, fmt.Errorf("cannot read model header: %w", err)
	}
	m.Extra = make([]float32, ne[0])
	var b4 [4]byte
	for i := range m.Extra {
		if _, err := io.ReadFull(zr, b4[:]); err != nil {
			return nil, fmt.Errorf("cannot read model weights: %w", err)
		}
		m.Extra[i] = math.Float32frombits(binary.LittleEndian.Uint32(b4[:]))
		if !finite32(m.Extra[i]) {
			return nil, errors.New("cannot read model: non-finite weight")
		}
	}
	raw := make([]byte, 2*int(n))
	if _, err := io.ReadFull(zr, raw); err != nil {
		return nil, fmt.Errorf("cannot read model weights: %w", err)
	}
	m.W = make([]int16, n)
	for i := range m.W {
		m.W[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return m, nil
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
