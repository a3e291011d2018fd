package window

import (
	"testing"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// FuzzUnmarshalPartial: no input makes decoding, re-encoding, merging or
// computing signals panic, and whatever decodes re-encodes to bytes that
// decode again to the same encoding.
func FuzzUnmarshalPartial(f *testing.F) {
	cfg := DefaultConfig()
	cfg.SampleSize, cfg.EmbeddingSampleSize, cfg.MaxGroups = 8, 4, 2
	p := fill(NewPartial(testKey, 0, 60, cfg), newGen(1), 40)
	p.Add(&eventpb.Event{EventId: "e", Segments: map[string]string{"a": "1", "b": "2"}}, nil, nil)
	b, _ := p.MarshalBinary()
	f.Add(b)
	e, _ := NewPartial(testKey, 0, 60, cfg).MarshalBinary()
	f.Add(e)
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var q Partial
		if err := q.UnmarshalBinary(data); err != nil {
			return
		}
		enc, err := q.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded partial does not encode: %v", err)
		}
		var r Partial
		if err := r.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-encoded partial does not decode: %v", err)
		}
		enc2, _ := r.MarshalBinary()
		if string(enc2) != string(enc) {
			t.Fatal("encoding is not stable")
		}
		_ = q.Merge(&r)
		_ = Signals(&q, &r, "fuzz", DefaultConfig())
		_ = Compare(&r, &q, DefaultConfig())
		_ = q.SizeBytes()
	})
}
