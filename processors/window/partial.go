package window

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/stats"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// Key identifies the stream a partial aggregates.
type Key struct{ Tenant, App, Model, Variant string }

// params are the config values that shape a partial.
type params struct {
	outs                               *outcomeSet
	sampleSize, embSampleSize, dims    int
	topicBits, textMax                 int
	maxGroups, maxAttrs, maxCategories int
}

// layout is the immutable shape shared by all partials of one config:
// params and histogram edges. Partials merge only with an equal layout.
type layout struct {
	params
	// names are the outcomes' names sorted, the order of A/B statistics
	// (equal statistics compare equal, decoded or not); byName[i] is the
	// position in outs of names' i-th.
	names  *outcomeSet
	byName [maxOutcomes]int
	edges  [numNumeric][]float64
	custom [numNumeric]bool // edges differ from the defaults (encoded then)
	bins   int              // Σ len(edges)+1
}

var (
	layoutsMu sync.Mutex
	layouts   = map[params][]*layout{}
	ddMapping *mapping.LogarithmicMapping
)

func init() {
	m, err := mapping.NewLogarithmicMapping(SketchRelativeAccuracy)
	if err != nil {
		panic(err) // a constant accuracy in (0,1) cannot fail
	}
	ddMapping = m
}

// withDefaults replaces out-of-range shaping values by the defaults (and
// clamps to the hard bounds), so that NewPartial never fails; Validate
// reports them at config load.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	intIn := func(v *int, def, lo, hi int) {
		if *v < lo || *v > hi {
			*v = def
		}
	}
	if c.Outcomes == nil || validOutcomes(c.Outcomes) != nil {
		c.Outcomes = d.Outcomes
	}
	intIn(&c.SampleSize, d.SampleSize, 2, maxSampleSize)
	intIn(&c.EmbeddingSampleSize, d.EmbeddingSampleSize, 0, maxSampleSize)
	intIn(&c.EmbeddingDims, d.EmbeddingDims, 2, maxEmbeddingDims)
	intIn(&c.TopicBits, d.TopicBits, 1, maxTopicBits)
	intIn(&c.TextMaxBytes, d.TextMaxBytes, 1, maxTextBytes)
	intIn(&c.MaxGroups, d.MaxGroups, 1, maxGroupsLimit)
	intIn(&c.MaxAttributes, d.MaxAttributes, 0, maxAttrsLimit)
	intIn(&c.MaxCategories, d.MaxCategories, 1, maxCategories)
	if !(c.Confidence > 0 && c.Confidence < 1) {
		c.Confidence = d.Confidence
	}
	if !(c.Drift.Alpha > 0 && c.Drift.Alpha < 1) {
		c.Drift.Alpha = d.Drift.Alpha
	}
	if !(c.Drift.PSIThreshold > 0) || math.IsInf(c.Drift.PSIThreshold, 0) {
		c.Drift.PSIThreshold = d.Drift.PSIThreshold
	}
	if !(c.Drift.MinSamples >= 2) || math.IsInf(c.Drift.MinSamples, 0) {
		c.Drift.MinSamples = d.Drift.MinSamples
	}
	if c.Drift.Permutations < 1 || c.Drift.Permutations > 100000 {
		c.Drift.Permutations = d.Drift.Permutations
	}
	if c.Drift.Seed == 0 {
		c.Drift.Seed = d.Drift.Seed
	}
	if !(c.Bias.Alpha > 0 && c.Bias.Alpha < 1) {
		c.Bias.Alpha = d.Bias.Alpha
	}
	if !(c.Bias.MinGroupSize >= 2) || math.IsInf(c.Bias.MinGroupSize, 0) {
		c.Bias.MinGroupSize = d.Bias.MinGroupSize
	}
	if !(c.AB.Alpha > 0 && c.AB.Alpha < 1) {
		c.AB.Alpha = d.AB.Alpha
	}
	if c.AB.Decision != DecisionFixed {
		c.AB.Decision = DecisionMSPRT
	}
	if !(c.AB.MixingSD > 0) || math.IsInf(c.AB.MixingSD, 0) {
		c.AB.MixingSD = d.AB.MixingSD
	}
	return c
}

func (c Config) params() params {
	return params{
		outs:       internOutcomes(c.Outcomes),
		sampleSize: c.SampleSize, embSampleSize: c.EmbeddingSampleSize, dims: c.EmbeddingDims,
		topicBits: c.TopicBits, textMax: c.TextMaxBytes,
		maxGroups: c.MaxGroups, maxAttrs: c.MaxAttributes, maxCategories: c.MaxCategories,
	}
}

// validEdges reports whether e can be a histogram's edges.
func validEdges(e []float64) bool {
	if len(e) < 2 || len(e) > maxEdges {
		return false
	}
	for i, v := range e {
		if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= e[i-1]) {
			return false
		}
	}
	return true
}

// layoutFor returns the shared layout of p and the given edges (nil entries
// take the defaults; invalid ones too).
func layoutFor(p params, edges [numNumeric][]float64) *layout {
	l := &layout{params: p, names: outcomeNamesSet(slices.Sorted(slices.Values(p.outs.names)))}
	for i, n := range l.names.names {
		l.byName[i] = p.outs.index(n)
	}
	for i := range l.edges {
		e := edges[i]
		if e == nil || !validEdges(e) || slices.Equal(e, numericDefs[i].edges) {
			l.edges[i] = numericDefs[i].edges
		} else {
			l.edges[i] = slices.Clone(e)
			l.custom[i] = true
		}
		l.bins += len(l.edges[i]) + 1
	}
	layoutsMu.Lock()
	defer layoutsMu.Unlock()
	for _, c := range layouts[p] {
		if c.sameEdges(l) {
			return c
		}
	}
	if len(layouts[p]) < 64 { // bounded: configs do not change per event
		layouts[p] = append(layouts[p], l)
	}
	return l
}

func (l *layout) sameEdges(o *layout) bool {
	for i := range l.edges {
		if !slices.Equal(l.edges[i], o.edges[i]) {
			return false
		}
	}
	return true
}

func (l *layout) equal(o *layout) bool {
	return l == o || (l.params == o.params && l.sameEdges(o))
}

// mergeLayout is the layout of l merged with o: l when o's outcomes are
// among l's, else l with the union of both outcome lists; ok is false
// when they differ in anything else (see ErrLayoutMismatch).
func (l *layout) mergeLayout(o *layout) (*layout, bool) {
	if l.equal(o) {
		return l, true
	}
	lp, op := l.params, o.params
	lp.outs, op.outs = nil, nil
	if lp != op || !l.sameEdges(o) {
		return nil, false
	}
	u, ok := l.outs.union(o.outs)
	if !ok {
		return nil, false
	}
	if u == l.outs {
		return l, true
	}
	lp.outs = u
	return layoutFor(lp, l.edges), true
}

// relayout moves p to l, which has every outcome of p's layout (and the
// same everything else).
func (p *Partial) relayout(l *layout) {
	from, to := p.lay.outs, l.outs
	p.outcomes = remap(p.outcomes, from, to)
	for _, s := range p.segments {
		for _, g := range s.groups {
			g.positives, g.trials = remap(g.positives, from, to), remap(g.trials, from, to)
		}
		s.other.positives, s.other.trials = remap(s.other.positives, from, to), remap(s.other.trials, from, to)
	}
	p.lay, p.srcSchema = l, nil
}

func configLayout(cfg Config) *layout {
	c := cfg.withDefaults()
	var edges [numNumeric][]float64
	for name, e := range c.Edges {
		if i := numericIndex(name); i >= 0 {
			edges[i] = e
		}
	}
	return layoutFor(c.params(), edges)
}

type outcomeCount struct{ positives, trials uint64 }

// Partial is the mergeable aggregate of the scored events of one key and
// one event-time window: counts, exact fixed-point sums, DDSketch quantile
// sketches, fixed-bin histograms, capped category and segment-group counts,
// the text-embedding centroid and bottom-k samples by event hash. Its size
// is bounded by the Config, never by the number of events.
//
// Merging the same partials in any order gives byte-identical
// MarshalBinary output: every merged quantity is an integer count, an exact
// 128-bit fixed-point sum, or a set chosen by event or label hash.
//
// A Partial is not safe for concurrent use.
type Partial struct {
	Key           Key
	WindowStart   int64 // unix seconds
	WindowSeconds uint32

	lay      *layout
	count    uint64
	outcomes [maxOutcomes]outcomeCount // in the order of lay.outs
	hists    [numNumeric]stats.Histogram
	moments  [numNumeric]exactMoments
	sketches [numSketches]*ddsketch.DDSketch
	cats     [2]capped // finish_reason, response_model
	scripts  [numScripts]uint64
	topics   []uint64 // 2^topicBits buckets, then "none"

	segments    map[string]*segment
	segWorst    labelKey
	droppedAttr uint64

	embN      uint64
	embSum    []int64 // units of embScale
	embSample vectorSample
	latSample valueSample

	scratch []float32 // per-event embedding, not part of the state
	// src maps outcomes and score features to the outputs of srcSchema,
	// the schema of the scores last added (not part of the state).
	srcSchema *detectors.Schema
	src       sources
}

// sources are the positions in a scores schema of what Add reads: per
// outcome the output whose Rate it is (noOutput: not scored; errorOutput:
// the event's error), per score feature its output.
type sources struct {
	outcome [maxOutcomes]int16
	numeric [numNumeric - numCompletionToxicity]int16
}

const (
	noOutput    = -1
	errorOutput = -2
)

func (l *layout) sources(schema *detectors.Schema) sources {
	var s sources
	for j, name := range l.outs.names {
		s.outcome[j] = noOutput
		if name == ErrorOutcome {
			s.outcome[j] = errorOutput
			continue
		}
		for i := 0; i < schema.Len(); i++ {
			if schema.Output(i).Rate == name {
				s.outcome[j] = int16(i)
			}
		}
	}
	for k := range s.numeric {
		s.numeric[k] = int16(schema.Index(numericDefs[numCompletionToxicity+k].output))
	}
	return s
}

// embScale is the fixed-point unit of the embedding centroid sums.
const embScale = 1e6

// NewPartial returns an empty partial for key k and the window starting at
// windowStart (unix seconds) lasting windowSeconds. Invalid config values
// fall back to their defaults (Config.Validate reports them).
func NewPartial(k Key, windowStart int64, windowSeconds uint32, cfg Config) *Partial {
	return newPartial(k, windowStart, windowSeconds, configLayout(cfg))
}

func newPartial(k Key, windowStart int64, windowSeconds uint32, l *layout) *Partial {
	p := &Partial{Key: k, WindowStart: windowStart, WindowSeconds: windowSeconds, lay: l}
	counts := make([]float64, l.bins)
	for i := range p.hists {
		n := len(l.edges[i]) + 1
		p.hists[i] = stats.Histogram{Edges: l.edges[i], Counts: counts[:n:n]}
		counts = counts[n:]
	}
	p.topics = make([]uint64, 1<<l.topicBits+1)
	return p
}

// Count is the number of events added (merged partials included).
func (p *Partial) Count() uint64 { return p.count }

func (p *Partial) addNumeric(i int, x float64) {
	p.hists[i].Add(x)
	p.moments[i].add(x, numericDefs[i].resolution)
}

func (p *Partial) addSketch(i int, x float64) {
	if math.IsNaN(x) {
		return
	}
	sk := p.sketches[i]
	if sk == nil {
		sk = ddsketch.NewDDSketch(ddMapping, store.NewDenseStore(), store.NewDenseStore())
		p.sketches[i] = sk
	}
	d := sketchDefs[i]
	if !(x > 0) {
		_ = sk.AddWithCount(0, 1)
		return
	}
	_ = sk.Add(math.Max(d.min, math.Min(d.max, x)))
}

// Add folds in one scored event. f may be nil (the features are then
// computed here) and s may be nil (an event the detectors did not score:
// only the score-independent outcomes count it). Feedback events are
// ignored. Add allocates only when the partial grows (a new group or
// category, a sketch's first value or wider range, a sample filling up).
func (p *Partial) Add(ev *eventpb.Event, f *eventfeatures.Features, s *detectors.Scores) {
	if ev == nil || ev.GetKind() == eventpb.Kind_KIND_FEEDBACK {
		return
	}
	if p.lay == nil {
		*p = *NewPartial(p.Key, p.WindowStart, p.WindowSeconds, DefaultConfig())
	}
	var local eventfeatures.Features
	if f == nil {
		local = eventfeatures.Compute(ev)
		f = &local
	}
	l := p.lay
	p.count++

	var trial, pos [maxOutcomes]bool
	if s != nil && (p.srcSchema != s.Schema || p.srcSchema == nil) {
		p.src, p.srcSchema = l.sources(s.Schema), s.Schema
	}
	for j := range l.outs.names {
		if s == nil {
			if l.outs.names[j] == ErrorOutcome {
				trial[j], pos[j] = true, f.IsError
			}
			continue
		}
		k := p.src.outcome[j]
		switch {
		case k == errorOutput:
			trial[j], pos[j] = true, f.IsError
		case k >= 0 && int(k) < len(s.Values):
			v := &s.Values[k]
			switch s.Schema.Output(int(k)).Kind {
			case detectors.Probability:
				trial[j], pos[j] = v.Valid, v.Num >= l.outs.thresholds[j]
			case detectors.Flag:
				trial[j], pos[j] = true, v.Valid && v.Num != 0
			case detectors.Kinds:
				trial[j], pos[j] = true, len(v.List) > 0
			}
		}
	}
	for i := range l.outs.names {
		if trial[i] {
			p.outcomes[i].trials++
			if pos[i] {
				p.outcomes[i].positives++
			}
		}
	}

	lat := ev.GetDurationMs()
	in, out, tot := float64(ev.GetInputTokens()), float64(ev.GetOutputTokens()), float64(f.TotalTokens)
	cost := ev.GetCostUsd()
	p.addNumeric(numLatency, lat)
	p.addSketch(skLatency, lat)
	if ev.TtftMs != nil {
		p.addNumeric(numTTFT, ev.GetTtftMs())
		p.addSketch(skTTFT, ev.GetTtftMs())
	}
	p.addNumeric(numInputTokens, in)
	p.addSketch(skInputTokens, in)
	p.addNumeric(numOutputTokens, out)
	p.addSketch(skOutputTokens, out)
	p.addNumeric(numTotalTokens, tot)
	p.addSketch(skTotalTokens, tot)
	p.addNumeric(numCost, cost)
	p.addSketch(skCost, cost)
	p.addNumeric(numPromptChars, float64(f.PromptChars))
	p.addNumeric(numCompletionChars, float64(f.CompletionChars))
	p.addNumeric(numContextChars, float64(f.ContextChars))
	if f.OutputTokensPerSecond > 0 {
		p.addNumeric(numTokensPerSecond, f.OutputTokensPerSecond)
	}
	if s != nil {
		for k, i := range p.src.numeric {
			if i >= 0 && int(i) < len(s.Values) && s.Values[i].Valid {
				p.addNumeric(numCompletionToxicity+k, s.Values[i].Num)
			}
		}
	}

	finish := "unknown"
	for _, m := range ev.GetCompletion() {
		if r := m.GetFinishReason(); r != "" {
			finish = r
		}
	}
	p.cats[0].add(l.maxCategories, labelOf(finish), 1)
	model := ev.GetModel()
	if model == "" {
		model = "unknown"
	}
	p.cats[1].add(l.maxCategories, labelOf(model), 1)

	text := promptText(ev)
	p.scripts[scriptOf(text, l.textMax)]++
	if len(p.scratch) != l.dims {
		p.scratch = make([]float32, l.dims)
	}
	var ok bool
	if e := ev.GetEmbedding(); len(e) > 0 {
		ok = projectEmbedding(e, p.scratch)
	} else {
		ok = textEmbedding(text, l.textMax, p.scratch)
	}
	h := eventHash(ev)
	if ok {
		if p.embSum == nil {
			p.embSum = make([]int64, l.dims)
		}
		p.embN++
		for i, x := range p.scratch {
			p.embSum[i] += int64(math.Round(float64(x) * embScale))
		}
		p.embSample.add(l.embSampleSize, l.dims, h, p.scratch)
		p.topics[topicOf(p.scratch, l.topicBits)]++
	} else {
		p.topics[len(p.topics)-1]++
	}
	if !math.IsNaN(lat) && !math.IsInf(lat, 0) {
		p.latSample.add(l.sampleSize, h, lat)
	}

	for attr, val := range ev.GetSegments() {
		seg := p.segment(labelOf(attr), 1)
		if seg == nil {
			continue
		}
		g := seg.group(l.maxGroups, labelOf(val))
		g.n++
		for i := range l.outs.names {
			if trial[i] {
				g.trials[i]++
				if pos[i] {
					g.positives[i]++
				}
			}
		}
	}
}

// segment returns the kept segment of attr, or nil (counting n dropped
// events) when attr is beyond the attribute cap. Attributes are capped like
// groups: the max attributes with the smallest (hash, name) are kept.
func (p *Partial) segment(attr string, n uint64) *segment {
	if s, ok := p.segments[attr]; ok {
		return s
	}
	max := p.lay.maxAttrs
	if max <= 0 {
		p.droppedAttr += n
		return nil
	}
	k := labelKey{hashString(attr), attr}
	if len(p.segments) >= max {
		if !labelLess(k, p.segWorst) {
			p.droppedAttr += n
			return nil
		}
		p.droppedAttr += p.segments[p.segWorst.name].total()
		delete(p.segments, p.segWorst.name)
	}
	if p.segments == nil {
		p.segments = make(map[string]*segment, 2)
	}
	s := &segment{groups: make(map[string]*groupCounts, 4)}
	p.segments[cloneLabel(attr)] = s
	if len(p.segments) >= max {
		first := true
		for name := range p.segments {
			k := labelKey{hashString(name), name}
			if first || labelLess(p.segWorst, k) {
				p.segWorst, first = k, false
			}
		}
	}
	return s
}

// ErrKeyMismatch is returned by Merge for partials of different keys.
var ErrKeyMismatch = errors.New("cannot merge partials of different keys")

// ErrLayoutMismatch is returned by Merge for partials built with different
// shaping settings (thresholds, sample sizes, caps, histogram edges).
// Partials whose outcome lists differ merge into the union of both, unless
// an outcome has different thresholds in them.
var ErrLayoutMismatch = errors.New("cannot merge partials built with different window settings (thresholds, sample sizes, caps or histogram edges)")

// Merge folds o into p. Both must have the same Key (set Key first to fold
// a key into an overflow key) and layout; p is unchanged on error. Windows
// that differ (rollups, rolling baselines) merge into the span from the
// earliest start to the latest end.
func (p *Partial) Merge(o *Partial) error {
	if o == nil {
		return nil
	}
	if p.lay == nil {
		*p = *newPartial(p.Key, p.WindowStart, p.WindowSeconds, o.layoutOrDefault())
	}
	if o.lay == nil {
		return nil // an unused zero Partial
	}
	if p.Key != o.Key {
		return fmt.Errorf("%w: %+v and %+v", ErrKeyMismatch, p.Key, o.Key)
	}
	if !p.lay.equal(o.lay) {
		// Partials that differ only in outcomes (one written before an
		// outcome was added) merge into the union of their outcomes.
		nl, ok := p.lay.mergeLayout(o.lay)
		if !ok {
			return ErrLayoutMismatch
		}
		if nl != p.lay {
			p.relayout(nl)
		}
		if o.lay != nl {
			c := o.Clone()
			c.relayout(nl)
			o = c
		}
	}
	if o == p {
		o = p.Clone()
	}
	if p.WindowStart != o.WindowStart || p.WindowSeconds != o.WindowSeconds {
		start := min(p.WindowStart, o.WindowStart)
		end := max(p.WindowStart+int64(p.WindowSeconds), o.WindowStart+int64(o.WindowSeconds))
		p.WindowStart, p.WindowSeconds = start, uint32(min(end-start, math.MaxUint32))
	}
	l := p.lay
	p.count += o.count
	for i := range l.outs.names {
		p.outcomes[i].positives += o.outcomes[i].positives
		p.outcomes[i].trials += o.outcomes[i].trials
	}
	for i := range p.hists {
		_ = p.hists[i].Merge(&o.hists[i]) // equal layouts: equal edges
		p.moments[i].merge(&o.moments[i])
	}
	for i, sk := range o.sketches {
		if sk == nil {
			continue
		}
		if p.sketches[i] == nil {
			p.sketches[i] = sk.Copy()
		} else {
			_ = p.sketches[i].MergeWith(sk)
		}
	}
	for i := range p.cats {
		p.cats[i].merge(l.maxCategories, &o.cats[i])
	}
	for i := range p.scripts {
		p.scripts[i] += o.scripts[i]
	}
	for i := range p.topics {
		p.topics[i] += o.topics[i]
	}
	p.droppedAttr += o.droppedAttr
	for attr, os := range o.segments {
		if s := p.segment(attr, os.total()); s != nil {
			s.merge(l.maxGroups, os)
		}
	}
	if o.embN > 0 {
		if p.embSum == nil {
			p.embSum = make([]int64, l.dims)
		}
		p.embN += o.embN
		for i, v := range o.embSum {
			p.embSum[i] += v
		}
	}
	p.embSample.merge(l.embSampleSize, l.dims, &o.embSample)
	p.latSample.merge(l.sampleSize, &o.latSample)
	return nil
}

func (p *Partial) layoutOrDefault() *layout {
	if p.lay != nil {
		return p.lay
	}
	return configLayout(DefaultConfig())
}

// Clone returns a deep copy of p.
func (p *Partial) Clone() *Partial {
	q := newPartial(p.Key, p.WindowStart, p.WindowSeconds, p.layoutOrDefault())
	if p.lay != nil {
		_ = q.Merge(p)
	}
	return q
}

// SizeBytes is the approximate memory held by p, for the tracked-keys
// memory metric and cap.
func (p *Partial) SizeBytes() int {
	n := int(unsafe.Sizeof(*p))
	if p.lay == nil {
		return n
	}
	n += 8 * p.lay.bins
	for _, sk := range p.sketches {
		if sk == nil {
			continue
		}
		n += 200 // sketch and two stores
		if lo, err := sk.GetPositiveValueStore().MinIndex(); err == nil {
			hi, _ := sk.GetPositiveValueStore().MaxIndex()
			n += 8 * (hi - lo + 1 + 64)
		}
	}
	const mapEntry = 48
	for i := range p.cats {
		for k := range p.cats[i].m {
			n += mapEntry + len(k)
		}
	}
	n += 8 * len(p.topics)
	for attr, s := range p.segments {
		n += mapEntry + len(attr) + int(unsafe.Sizeof(*s))
		for g := range s.groups {
			n += mapEntry + len(g) + int(unsafe.Sizeof(groupCounts{}))
		}
	}
	n += 8*cap(p.embSum) + 4*cap(p.scratch)
	n += 8*cap(p.embSample.hashes) + 4*cap(p.embSample.slots) + 4*cap(p.embSample.arena)
	n += 8*cap(p.latSample.hashes) + 8*cap(p.latSample.values)
	return n
}
