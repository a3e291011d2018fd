package schemas

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzDecode: no input may panic; anything accepted must be valid and
// re-encodable.
func FuzzDecode(f *testing.F) {
	b, _ := proto.Marshal(validEvent())
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte("\x0a\x05hello"))
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		if err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) {
				t.Fatalf("error is not *Error: %T %v", err, err)
			}
			return
		}
		if err := Validate(ev); err != nil {
			t.Fatalf("accepted event fails validation: %v", err)
		}
		if _, err := proto.Marshal(ev); err != nil {
			t.Fatalf("accepted event does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"a","model":"m","ts":"2026-11-01T12:00:00Z"}`))
	f.Add([]byte(`{"prompt":[{"role":1}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("{\"app\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeJSON(data)
		if err != nil {
			return
		}
		if err := Validate(ev); err != nil {
			t.Fatalf("accepted event fails validation: %v", err)
		}
		if _, err := MarshalJSON(ev); err != nil {
			t.Fatalf("accepted event does not re-encode: %v", err)
		}
	})
}
