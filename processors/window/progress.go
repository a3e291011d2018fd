package window

import (
	"encoding/json"
	"errors"
	"fmt"
)

// HeaderProgress marks a record of the partials topic as a progress report
// (its value is an encoded Progress) rather than a partial.
const HeaderProgress = "sightline.progress"

// ProgressVersion is the version written by MarshalProgress.
const ProgressVersion = 1

// maxProgressPartitions bounds a decoded report: no events topic has more.
const maxProgressPartitions = 1 << 16

// Progress is a score-stage member's report of how far it has scored each
// partition of the events topic it owns. The member writes one to every
// partition of the partials topic in the same Kafka transaction as the
// partials of the events it covers, after them, so an aggregate member that
// reads a report in a partials partition has already read every partial it
// describes in that partition. The aggregate stage closes a window only when
// the reports say that no events partition can still contribute to it.
type Progress struct {
	Version int `json:"v"`
	// Partitions is the number of partitions of the events topic the
	// member saw; a window waits for a report on each of them.
	Partitions int32 `json:"partitions"`
	// ListedAt is when the member last listed the events topic's end
	// offsets (Unix ms, its clock). A partition reported caught up had
	// every record appended before ListedAt scored.
	ListedAt int64 `json:"listed_at_ms"`
	// Parts reports the partitions the member owns.
	Parts []PartProgress `json:"parts"`
}

// PartProgress is the progress of one events partition.
type PartProgress struct {
	Partition int32 `json:"p"`
	// MaxTS is the latest event time scored from the partition since the
	// member got it (Unix ms; 0 when none yet).
	MaxTS int64 `json:"max_ts_ms,omitempty"`
	// CaughtUp: every record appended before ListedAt is scored.
	CaughtUp bool `json:"caught_up,omitempty"`
	// IdleMS, when caught up: how long no record had been appended at
	// ListedAt (a lower bound).
	IdleMS int64 `json:"idle_ms,omitempty"`
}

// MarshalProgress encodes a report (JSON: a few per second, small, and
// readable with any Kafka tool).
func MarshalProgress(p *Progress) ([]byte, error) {
	p.Version = ProgressVersion
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("cannot encode progress report: %w", err)
	}
	return b, nil
}

// UnmarshalProgress decodes and checks a report; it never panics.
func UnmarshalProgress(b []byte) (*Progress, error) {
	var p Progress
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("cannot decode progress report: %w", err)
	}
	switch {
	case p.Version != ProgressVersion:
		return nil, fmt.Errorf("unsupported progress report version %d", p.Version)
	case p.Partitions < 1 || p.Partitions > maxProgressPartitions:
		return nil, fmt.Errorf("progress report: partitions %d out of range", p.Partitions)
	case len(p.Parts) > int(p.Partitions):
		return nil, errors.New("progress report: more parts than partitions")
	case p.ListedAt < 0:
		return nil, errors.New("progress report: negative listed_at_ms")
	}
	for _, pp := range p.Parts {
		if pp.Partition < 0 || pp.Partition >= p.Partitions || pp.MaxTS < 0 || pp.IdleMS < 0 {
			return nil, fmt.Errorf("progress report: bad part %+v", pp)
		}
	}
	return &p, nil
}
