package window

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas/windowpb"
)

// EncodingVersion is the version written by MarshalBinary. UnmarshalBinary
// reads it and version 1 (six outcomes in a fixed order, written before
// outcomes followed the detectors' declarations), and rejects any other.
const EncodingVersion = 2

// maxCount bounds any decoded count so that sums of many partials cannot
// overflow or lose integer precision in float64 histogram counts (2^53).
const maxCount = 1 << 48

// MarshalBinary encodes p as a windowpb.Partial protobuf message (see
// schemas/proto/sightline/window/v1/partial.proto). The encoding is
// canonical: equal partials give equal bytes.
func (p *Partial) MarshalBinary() ([]byte, error) {
	m := p.toProto()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cannot encode window partial: %w", err)
	}
	return b, nil
}

func (p *Partial) toProto() *windowpb.Partial {
	l := p.layoutOrDefault()
	m := &windowpb.Partial{
		Version:       EncodingVersion,
		Tenant:        p.Key.Tenant,
		App:           p.Key.App,
		Model:         p.Key.Model,
		Variant:       p.Key.Variant,
		WindowStart:   p.WindowStart,
		WindowSeconds: p.WindowSeconds,
		Params: &windowpb.Params{
			SampleSize:          uint32(l.sampleSize),
			EmbeddingSampleSize: uint32(l.embSampleSize),
			EmbeddingDims:       uint32(l.dims),
			TopicBits:           uint32(l.topicBits),
			TextMaxBytes:        uint32(l.textMax),
			MaxGroups:           uint32(l.maxGroups),
			MaxAttributes:       uint32(l.maxAttrs),
			MaxCategories:       uint32(l.maxCategories),
		},
		Count:                  p.count,
		DroppedAttributeEvents: p.droppedAttr,
	}
	for i, name := range l.outs.names {
		m.Params.Outcomes = append(m.Params.Outcomes, &windowpb.OutcomeParam{Name: name, Threshold: l.outs.thresholds[i]})
	}
	if p.lay == nil {
		return m
	}
	for i, name := range l.outs.names {
		o := p.outcomes[i]
		m.Outcomes = append(m.Outcomes, &windowpb.Outcome{Name: name, Positives: o.positives, Trials: o.trials})
	}
	for i := range p.hists {
		h := &p.hists[i]
		n := &windowpb.Numeric{Name: numericDefs[i].name, Counts: make([]uint64, len(h.Counts)), Nan: uint64(h.NaN)}
		if l.custom[i] {
			n.Edges = slices.Clone(h.Edges)
		}
		for j, c := range h.Counts {
			n.Counts[j] = uint64(c)
		}
		mo := &p.moments[i]
		n.N, n.SumHi, n.SumLo, n.SumsqHi, n.SumsqLo = mo.n, mo.sum.hi, mo.sum.lo, mo.sumsq.hi, mo.sumsq.lo
		m.Numerics = append(m.Numerics, n)
	}
	for i, sk := range p.sketches {
		if sk == nil {
			continue
		}
		s := &windowpb.Sketch{Name: sketchDefs[i].name, ZeroCount: uint64(sk.GetZeroCount())}
		ps := sk.GetPositiveValueStore()
		if lo, err := ps.MinIndex(); err == nil {
			hi, _ := ps.MaxIndex()
			s.Offset = int32(lo)
			s.Counts = make([]uint64, hi-lo+1)
			ps.ForEach(func(idx int, c float64) bool {
				s.Counts[idx-lo] = uint64(c)
				return false
			})
		}
		m.Sketches = append(m.Sketches, s)
	}
	for i := range p.cats {
		c := &p.cats[i]
		pc := &windowpb.Categorical{Name: categoricalNames[i], Other: c.other}
		for _, k := range c.sortedKeys() {
			pc.Keys = append(pc.Keys, k)
			pc.Counts = append(pc.Counts, c.m[k])
		}
		m.Categoricals = append(m.Categoricals, pc)
	}
	sc := &windowpb.Categorical{Name: categoricalNames[catScript]}
	for i, n := range p.scripts {
		if n > 0 {
			sc.Keys = append(sc.Keys, scriptNames[i])
			sc.Counts = append(sc.Counts, n)
		}
	}
	m.Categoricals = append(m.Categoricals, sc)
	tc := &windowpb.Categorical{Name: categoricalNames[catTopic]}
	for i, n := range p.topics {
		if n > 0 {
			tc.Keys = append(tc.Keys, topicName(i, l.topicBits))
			tc.Counts = append(tc.Counts, n)
		}
	}
	m.Categoricals = append(m.Categoricals, tc)

	attrs := make([]string, 0, len(p.segments))
	for a := range p.segments {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	for _, a := range attrs {
		s := p.segments[a]
		ps := &windowpb.Segment{Attribute: a, Other: groupProto(OtherGroup, &s.other, l.outs.len())}
		names := make([]string, 0, len(s.groups))
		for g := range s.groups {
			names = append(names, g)
		}
		sort.Strings(names)
		for _, g := range names {
			ps.Groups = append(ps.Groups, groupProto(g, s.groups[g], l.outs.len()))
		}
		m.Segments = append(m.Segments, ps)
	}
	if p.embN > 0 || len(p.embSample.hashes) > 0 {
		e := &windowpb.Embedding{N: p.embN, Sum: slices.Clone(p.embSum), SampleHashes: slices.Clone(p.embSample.hashes)}
		e.SampleValues = make([]float32, 0, len(p.embSample.hashes)*l.dims)
		for i := range p.embSample.hashes {
			e.SampleValues = append(e.SampleValues, p.embSample.vec(i, l.dims)...)
		}
		m.Embedding = e
	}
	if len(p.latSample.hashes) > 0 {
		m.LatencySample = &windowpb.Sample{Hashes: slices.Clone(p.latSample.hashes), Values: slices.Clone(p.latSample.values)}
	}
	return m
}

func topicName(i, bits int) string {
	if i == 1<<bits {
		return "none"
	}
	return fmt.Sprintf("t%d", i)
}

func groupProto(name string, g *groupCounts, outcomes int) *windowpb.Group {
	return &windowpb.Group{Name: name, N: g.n, Positives: slices.Clone(g.positives[:outcomes]), Trials: slices.Clone(g.trials[:outcomes])}
}

var errCorrupt = errors.New("cannot decode window partial")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// UnmarshalBinary replaces p with the partial encoded in b. It checks every
// invariant Merge and Signals rely on, so no input makes them panic; p is
// unchanged on error.
func (p *Partial) UnmarshalBinary(b []byte) error {
	var m windowpb.Partial
	if err := proto.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	q, err := fromProto(&m)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

func fromProto(m *windowpb.Partial) (*Partial, error) {
	v := m.GetVersion()
	if v != 1 && v != EncodingVersion {
		return nil, corrupt("version %d, want 1 or %d", v, EncodingVersion)
	}
	pp := m.GetParams()
	if pp == nil {
		return nil, corrupt("no params")
	}
	outs := []Outcome{} // none (an unused partial of version 1) is not the defaults
	if v == 1 {
		// The outcomes in the order written (the segment groups' order),
		// their thresholds from the fields of that layout.
		legacy := map[string]float64{"toxicity": pp.GetToxicityThreshold(), "prompt_injection": pp.GetInjectionThreshold(),
			"hallucination": pp.GetHallucinationThreshold()}
		for _, o := range m.GetOutcomes() {
			outs = append(outs, Outcome{Name: o.GetName(), Threshold: legacy[o.GetName()]})
		}
	} else {
		for _, o := range pp.GetOutcomes() {
			outs = append(outs, Outcome{Name: o.GetName(), Threshold: o.GetThreshold()})
		}
	}
	if err := validOutcomes(outs); err != nil {
		return nil, corrupt("%v", err)
	}
	c := Config{
		Outcomes:            outs,
		SampleSize:          int(pp.GetSampleSize()),
		EmbeddingSampleSize: int(pp.GetEmbeddingSampleSize()),
		EmbeddingDims:       int(pp.GetEmbeddingDims()),
		TopicBits:           int(pp.GetTopicBits()),
		TextMaxBytes:        int(pp.GetTextMaxBytes()),
		MaxGroups:           int(pp.GetMaxGroups()),
		MaxAttributes:       int(pp.GetMaxAttributes()),
		MaxCategories:       int(pp.GetMaxCategories()),
	}
	if c.withDefaults().params() != c.params() {
		return nil, corrupt("params out of range")
	}
	var edges [numNumeric][]float64
	seen := map[string]bool{}
	for _, n := range m.GetNumerics() {
		i := numericIndex(n.GetName())
		if i < 0 || seen[n.GetName()] {
			return nil, corrupt("numeric feature %q unknown or repeated", n.GetName())
		}
		seen[n.GetName()] = true
		if len(n.GetEdges()) > 0 {
			if !validEdges(n.GetEdges()) {
				return nil, corrupt("numeric %s: invalid edges", n.GetName())
			}
			edges[i] = n.GetEdges()
		}
	}
	l := layoutFor(c.params(), edges)
	p := newPartial(Key{m.GetTenant(), m.GetApp(), m.GetModel(), m.GetVariant()}, m.GetWindowStart(), m.GetWindowSeconds(), l)
	if p.count = m.GetCount(); p.count > maxCount {
		return nil, corrupt("count %d", p.count)
	}
	p.droppedAttr = m.GetDroppedAttributeEvents()
	seenOutcome := [maxOutcomes]bool{}
	for _, o := range m.GetOutcomes() {
		i := l.outs.index(o.GetName())
		if i < 0 || seenOutcome[i] {
			return nil, corrupt("outcome %q not in params or repeated", o.GetName())
		}
		seenOutcome[i] = true
		if o.GetTrials() > p.count || o.GetPositives() > o.GetTrials() {
			return nil, corrupt("outcome %s: %d of %d", o.GetName(), o.GetPositives(), o.GetTrials())
		}
		p.outcomes[i] = outcomeCount{o.GetPositives(), o.GetTrials()}
	}
	for _, n := range m.GetNumerics() {
		i := numericIndex(n.GetName())
		h := &p.hists[i]
		if len(n.GetCounts()) != len(h.Counts) {
			return nil, corrupt("numeric %s: %d counts for %d bins", n.GetName(), len(n.GetCounts()), len(h.Counts))
		}
		var tot uint64
		for j, v := range n.GetCounts() {
			if v > maxCount {
				return nil, corrupt("numeric %s: count %d", n.GetName(), v)
			}
			tot += v
			h.Counts[j] = float64(v)
		}
		if n.GetNan() > maxCount || tot > maxCount || n.GetN() > maxCount {
			return nil, corrupt("numeric %s: counts too large", n.GetName())
		}
		h.NaN = float64(n.GetNan())
		p.moments[i] = exactMoments{n: n.GetN(), sum: i128{n.GetSumHi(), n.GetSumLo()}, sumsq: i128{n.GetSumsqHi(), n.GetSumsqLo()}}
	}
	for _, s := range m.GetSketches() {
		i := -1
		for j, d := range sketchDefs {
			if d.name == s.GetName() {
				i = j
			}
		}
		if i < 0 || p.sketches[i] != nil {
			return nil, corrupt("sketch %q unknown or repeated", s.GetName())
		}
		d := sketchDefs[i]
		lo, hi := ddMapping.Index(d.min), ddMapping.Index(d.max)
		off := int(s.GetOffset())
		if len(s.GetCounts()) > 0 && (off < lo || off+len(s.GetCounts())-1 > hi) {
			return nil, corrupt("sketch %s: bins outside [%d, %d]", s.GetName(), lo, hi)
		}
		if s.GetZeroCount() > maxCount {
			return nil, corrupt("sketch %s: zero count", s.GetName())
		}
		sk := ddsketch.NewDDSketch(ddMapping, store.NewDenseStore(), store.NewDenseStore())
		if s.GetZeroCount() > 0 {
			_ = sk.AddWithCount(0, float64(s.GetZeroCount()))
		}
		ps := sk.GetPositiveValueStore()
		for j, c := range s.GetCounts() {
			if c > maxCount {
				return nil, corrupt("sketch %s: count", s.GetName())
			}
			ps.AddWithCount(off+j, float64(c))
		}
		p.sketches[i] = sk
	}
	for _, pc := range m.GetCategoricals() {
		if len(pc.GetKeys()) != len(pc.GetCounts()) {
			return nil, corrupt("categorical %s: keys", pc.GetName())
		}
		if pc.GetOther() > maxCount {
			return nil, corrupt("categorical %s: other", pc.GetName())
		}
		switch pc.GetName() {
		case categoricalNames[catFinishReason], categoricalNames[catModel]:
			i := catFinishReason
			if pc.GetName() == categoricalNames[catModel] {
				i = catModel
			}
			if len(pc.GetKeys()) > l.maxCategories || p.cats[i].m != nil || !slices.IsSorted(pc.GetKeys()) {
				return nil, corrupt("categorical %s: too many keys or repeated", pc.GetName())
			}
			for j, k := range pc.GetKeys() {
				if pc.GetCounts()[j] > maxCount || (j > 0 && k == pc.GetKeys()[j-1]) {
					return nil, corrupt("categorical %s: counts", pc.GetName())
				}
				p.cats[i].add(l.maxCategories, k, pc.GetCounts()[j])
			}
			p.cats[i].other = pc.GetOther()
		case categoricalNames[catScript]:
			for j, k := range pc.GetKeys() {
				idx := slices.Index(scriptNames[:], k)
				if idx < 0 || pc.GetCounts()[j] > maxCount {
					return nil, corrupt("script %q", k)
				}
				p.scripts[idx] = pc.GetCounts()[j]
			}
		case categoricalNames[catTopic]:
			for j, k := range pc.GetKeys() {
				idx := -1
				for t := range p.topics {
					if topicName(t, l.topicBits) == k {
						idx = t
					}
				}
				if idx < 0 || pc.GetCounts()[j] > maxCount {
					return nil, corrupt("topic %q", k)
				}
				p.topics[idx] = pc.GetCounts()[j]
			}
		default:
			return nil, corrupt("categorical %q unknown", pc.GetName())
		}
	}
	if len(m.GetSegments()) > l.maxAttrs {
		return nil, corrupt("%d segment attributes", len(m.GetSegments()))
	}
	for _, ps := range m.GetSegments() {
		if _, dup := p.segments[ps.GetAttribute()]; dup {
			return nil, corrupt("segment %q repeated", ps.GetAttribute())
		}
		if len(ps.GetGroups()) > l.maxGroups {
			return nil, corrupt("segment %q: %d groups", ps.GetAttribute(), len(ps.GetGroups()))
		}
		s := p.segment(ps.GetAttribute(), 0)
		if s == nil {
			return nil, corrupt("segment %q", ps.GetAttribute())
		}
		for _, pg := range ps.GetGroups() {
			if _, dup := s.groups[pg.GetName()]; dup {
				return nil, corrupt("segment %q: group %q repeated", ps.GetAttribute(), pg.GetName())
			}
			gc, err := groupFromProto(pg, l.outs.len())
			if err != nil {
				return nil, err
			}
			s.group(l.maxGroups, pg.GetName()).merge(gc)
		}
		if ps.GetOther() != nil {
			gc, err := groupFromProto(ps.GetOther(), l.outs.len())
			if err != nil {
				return nil, err
			}
			s.other = *gc
		}
	}
	if e := m.GetEmbedding(); e != nil {
		if len(e.GetSum()) != 0 && len(e.GetSum()) != l.dims {
			return nil, corrupt("embedding: %d dims, want %d", len(e.GetSum()), l.dims)
		}
		if e.GetN() > maxCount {
			return nil, corrupt("embedding: n")
		}
		hs := e.GetSampleHashes()
		if len(hs) > l.embSampleSize || len(e.GetSampleValues()) != len(hs)*l.dims || !strictlyIncreasing(hs) {
			return nil, corrupt("embedding sample")
		}
		p.embN = e.GetN()
		if len(e.GetSum()) > 0 {
			p.embSum = slices.Clone(e.GetSum())
		}
		for i, h := range hs {
			v := e.GetSampleValues()[i*l.dims : (i+1)*l.dims]
			for _, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, corrupt("embedding sample value")
				}
			}
			p.embSample.add(l.embSampleSize, l.dims, h, v)
		}
	}
	if s := m.GetLatencySample(); s != nil {
		if len(s.GetHashes()) > l.sampleSize || len(s.GetValues()) != len(s.GetHashes()) || !strictlyIncreasing(s.GetHashes()) {
			return nil, corrupt("latency sample")
		}
		for i, h := range s.GetHashes() {
			v := s.GetValues()[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, corrupt("latency sample value")
			}
			p.latSample.add(l.sampleSize, h, v)
		}
	}
	return p, nil
}

func groupFromProto(pg *windowpb.Group, outcomes int) (*groupCounts, error) {
	g := &groupCounts{n: pg.GetN()}
	if len(pg.GetPositives()) != outcomes || len(pg.GetTrials()) != outcomes || g.n > maxCount {
		return nil, corrupt("group %q: outcome counts", pg.GetName())
	}
	for i := range outcomes {
		g.positives[i], g.trials[i] = pg.GetPositives()[i], pg.GetTrials()[i]
		if g.trials[i] > g.n || g.positives[i] > g.trials[i] {
			return nil, corrupt("group %q: %d of %d", pg.GetName(), g.positives[i], g.trials[i])
		}
	}
	return g, nil
}

func strictlyIncreasing(h []uint64) bool {
	for i := 1; i < len(h); i++ {
		if h[i] <= h[i-1] {
			return false
		}
	}
	return true
}
