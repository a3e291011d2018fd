package window

import (
	"reflect"
	"testing"
)

func TestProgressRoundTrip(t *testing.T) {
	in := &Progress{Partitions: 4, ListedAt: 1_700_000_000_123, Parts: []PartProgress{
		{Partition: 0, MaxTS: 1_700_000_000_000}, {Partition: 3, MaxTS: 5, CaughtUp: true, IdleMS: 12_000}}}
	b, err := MarshalProgress(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := UnmarshalProgress(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	for _, bad := range []string{`{}`, `{"v":2,"partitions":1}`, `{"v":1,"partitions":0}`,
		`{"v":1,"partitions":1,"parts":[{"p":1}]}`, `{"v":1,"partitions":1,"parts":[{"p":0,"max_ts_ms":-1}]}`,
		`{"v":1,"partitions":1,"parts":[{"p":0},{"p":0}]}`, `[`} {
		if _, err := UnmarshalProgress([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// FuzzUnmarshalProgress: no input panics, and what decodes satisfies the
// bounds the aggregate stage relies on and re-encodes to an equal report.
func FuzzUnmarshalProgress(f *testing.F) {
	b, _ := MarshalProgress(&Progress{Partitions: 2, ListedAt: 10, Parts: []PartProgress{{Partition: 1, MaxTS: 3, CaughtUp: true, IdleMS: 4}}})
	f.Add(b)
	f.Add([]byte(`{"v":1,"partitions":65536,"parts":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := UnmarshalProgress(data)
		if err != nil {
			return
		}
		if p.Partitions < 1 || len(p.Parts) > int(p.Partitions) {
			t.Fatalf("bounds not enforced: %+v", p)
		}
		for _, pp := range p.Parts {
			if pp.Partition < 0 || pp.Partition >= p.Partitions || pp.MaxTS < 0 || pp.IdleMS < 0 {
				t.Fatalf("bad part accepted: %+v", pp)
			}
		}
		enc, err := MarshalProgress(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := UnmarshalProgress(enc)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-encoded report differs: %v", err)
		}
	})
}
