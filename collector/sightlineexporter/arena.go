package sightlineexporter

import (
	"encoding/hex"
	"math"
	"strconv"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// arena hands out the small objects of one translation (events,
// messages, timestamps, id and decoded strings) from a few large
// allocations. A push of 100 calls otherwise makes about 1,000 separate
// objects, and both the allocator and the garbage collector pay per
// object.
//
// The exporter reuses an arena for its next push once every event handed
// out has been encoded (reset clears what was used): nothing from an
// arena may be kept beyond that. A nil arena allocates each object
// separately.
type arena struct {
	evs   slab[eventpb.Event]
	msgs  slab[eventpb.Message]
	ts    slab[timestamppb.Timestamp]
	sdks  slab[eventpb.SDK]
	ptrs  slab[*eventpb.Message]
	text  slab[byte]
	calls []pendingCall
	out   []*eventpb.Event
	keys  []callKey           // calls a push produced through the joiner
	maps  []map[string]string // attribute maps, cleared and reused
	nMaps int                 // how many of maps are handed out
	// Scratch lists for indexed messages (translator.secondPass).
	indexed [4][]indexedMsg
}

// Slab chunk sizes: a typical batch fits in one or two chunks of each,
// and a push of a few spans does not hold much.
const (
	slabEvents   = 32
	slabMessages = 128
	slabText     = 64 << 10
)

// slab hands out elements of chunks of size elements; reset makes every
// chunk available again, cleared.
type slab[T any] struct {
	chunks [][]T
	cur    int // chunk being handed out
	next   int // its next free element
}

// take returns n consecutive zeroed elements; more than size are
// allocated on their own.
func (s *slab[T]) take(n, size int) []T {
	if n > size {
		return make([]T, n)
	}
	for {
		if s.cur == len(s.chunks) {
			s.chunks = append(s.chunks, make([]T, size))
		}
		c := s.chunks[s.cur]
		if s.next+n <= len(c) {
			out := c[s.next : s.next+n : s.next+n]
			s.next += n
			return out
		}
		s.cur++
		s.next = 0
	}
}

func (s *slab[T]) reset() {
	for i := 0; i < len(s.chunks) && i <= s.cur; i++ {
		clear(s.chunks[i])
	}
	s.cur, s.next = 0, 0
}

// reset makes everything handed out available again. The caller must
// hold no event, message or string from a.
func (a *arena) reset() {
	a.evs.reset()
	a.msgs.reset()
	a.ts.reset()
	a.sdks.reset()
	a.ptrs.reset()
	a.text.reset()
	// Whole capacity: slots past the length may still hold the previous
	// batch's spans, which would otherwise be kept alive.
	clear(a.calls[:cap(a.calls)])
	a.calls = a.calls[:0]
	clear(a.out[:cap(a.out)])
	a.out = a.out[:0]
	clear(a.keys[:cap(a.keys)])
	a.keys = a.keys[:0]
	for _, m := range a.maps[:a.nMaps] {
		clear(m)
	}
	a.nMaps = 0
	for i := range a.indexed {
		clear(a.indexed[i][:cap(a.indexed[i])])
	}
}

func (a *arena) event() *eventpb.Event {
	if a == nil {
		return &eventpb.Event{}
	}
	return &a.evs.take(1, slabEvents)[0]
}

func (a *arena) message(role, content, finish string) *eventpb.Message {
	var m *eventpb.Message
	if a == nil {
		m = &eventpb.Message{}
	} else {
		m = &a.msgs.take(1, slabMessages)[0]
	}
	m.Role, m.Content, m.FinishReason = role, content, finish
	return m
}

// messageList returns an empty list with room for n messages; appending
// beyond n allocates as usual and never touches a neighbour's room.
func (a *arena) messageList(n int) []*eventpb.Message {
	if a == nil || n > slabMessages/4 {
		return make([]*eventpb.Message, 0, n)
	}
	return a.ptrs.take(n, slabMessages)[:0]
}

func (a *arena) timestamp(t uint64) *timestamppb.Timestamp {
	var ts *timestamppb.Timestamp
	if a == nil {
		ts = &timestamppb.Timestamp{}
	} else {
		ts = &a.ts.take(1, slabEvents)[0]
	}
	ts.Seconds, ts.Nanos = int64(t/1e9), int32(t%1e9)
	return ts
}

func (a *arena) sdk(name, version string) *eventpb.SDK {
	var s *eventpb.SDK
	if a == nil {
		s = &eventpb.SDK{}
	} else {
		s = &a.sdks.take(1, slabEvents)[0]
	}
	s.Name, s.Version = name, version
	return s
}

// attributes returns an empty map for an event's attributes.
func (a *arena) attributes(n int) map[string]string {
	if a == nil {
		return make(map[string]string, n)
	}
	if a.nMaps < len(a.maps) {
		a.nMaps++
		return a.maps[a.nMaps-1]
	}
	m := make(map[string]string, max(n, 4))
	a.maps = append(a.maps, m)
	a.nMaps++
	return m
}

// asString is v.AsString with integers written into the arena.
func (a *arena) asString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		if a != nil {
			var buf [20]byte
			b := strconv.AppendInt(buf[:0], v.Int(), 10)
			out := a.bytes(len(b))
			copy(out, b)
			return str(out)
		}
	case pcommon.ValueTypeDouble:
		// Sampling parameters (gen_ai.request.temperature, top_p) are
		// doubles on most spans. Written as pcommon writes them (ES6
		// number form) where that is plain decimal; the rare exponent
		// form is left to pcommon.
		if f := v.Double(); a != nil && f == f && (f == 0 || math.Abs(f) >= 1e-6 && math.Abs(f) < 1e21) {
			var buf [32]byte
			b := strconv.AppendFloat(buf[:0], f, 'f', -1, 64)
			out := a.bytes(len(b))
			copy(out, b)
			return str(out)
		}
	}
	return v.AsString()
}

// bytes returns n bytes for the caller to fill before turning them into a
// string with str. They are not handed out again before reset.
func (a *arena) bytes(n int) []byte {
	if a == nil || n > slabText/4 {
		return make([]byte, n)
	}
	return a.text.take(n, slabText)
}

// str turns bytes from a.bytes into a string without copying.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// hexString is the lower-case hex form of b.
func (a *arena) hexString(b []byte) string {
	out := a.bytes(2 * len(b))
	hex.Encode(out, b)
	return str(out)
}
