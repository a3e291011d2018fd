package sightlineexporter

import (
	"encoding/hex"
	"unsafe"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// arena hands out the small objects of one translation (events,
// messages, timestamps, id strings) from a few larger allocations. A push
// of 100 calls otherwise makes about 1,000 separate objects, and both the
// allocator and the garbage collector pay per object. Nothing is reused:
// a slab is ordinary garbage once the push's events are encoded, so no
// object can be handed out twice. A nil arena allocates each object
// separately (tests call the mapping functions without one).
type arena struct {
	evs  []eventpb.Event
	msgs []eventpb.Message
	ptrs []*eventpb.Message
	ts   []timestamppb.Timestamp
	sdks []eventpb.SDK
	text []byte
}

// Slab sizes: enough for a typical batch in one or two allocations
// without holding much memory for a push of a few spans.
const (
	slabEvents   = 32
	slabMessages = 128
	slabText     = 8 << 10
)

func (a *arena) event() *eventpb.Event {
	if a == nil {
		return &eventpb.Event{}
	}
	if len(a.evs) == 0 {
		a.evs = make([]eventpb.Event, slabEvents)
	}
	ev := &a.evs[0]
	a.evs = a.evs[1:]
	return ev
}

func (a *arena) message(role, content, finish string) *eventpb.Message {
	var m *eventpb.Message
	if a == nil {
		m = &eventpb.Message{}
	} else {
		if len(a.msgs) == 0 {
			a.msgs = make([]eventpb.Message, slabMessages)
		}
		m = &a.msgs[0]
		a.msgs = a.msgs[1:]
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
	if len(a.ptrs) < n {
		a.ptrs = make([]*eventpb.Message, slabMessages)
	}
	l := a.ptrs[:0:n]
	a.ptrs = a.ptrs[n:]
	return l
}

func (a *arena) timestamp(t uint64) *timestamppb.Timestamp {
	var ts *timestamppb.Timestamp
	if a == nil {
		ts = &timestamppb.Timestamp{}
	} else {
		if len(a.ts) == 0 {
			a.ts = make([]timestamppb.Timestamp, slabEvents)
		}
		ts = &a.ts[0]
		a.ts = a.ts[1:]
	}
	ts.Seconds, ts.Nanos = int64(t/1e9), int32(t%1e9)
	return ts
}

func (a *arena) sdk(name, version string) *eventpb.SDK {
	var s *eventpb.SDK
	if a == nil {
		s = &eventpb.SDK{}
	} else {
		if len(a.sdks) == 0 {
			a.sdks = make([]eventpb.SDK, slabEvents)
		}
		s = &a.sdks[0]
		a.sdks = a.sdks[1:]
	}
	s.Name, s.Version = name, version
	return s
}

// bytes returns n bytes for the caller to fill before turning them into a
// string with str; they are never handed out again, so the string stays
// immutable.
func (a *arena) bytes(n int) []byte {
	if a == nil || n > slabText/8 {
		return make([]byte, n)
	}
	if cap(a.text)-len(a.text) < n {
		a.text = make([]byte, 0, slabText)
	}
	start := len(a.text)
	a.text = a.text[:start+n]
	return a.text[start : start+n : start+n]
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
