package window

import (
	"cmp"
	"slices"
	"sort"
)

// valueSample is a bottom-k sample: the k entries with the smallest event
// hashes, kept sorted by hash. The kept set depends only on the set of
// events, never on the order they arrive or partials merge in, and an event
// seen twice (at-least-once delivery) is kept once. Equal hashes keep the
// smaller value so that even a hash collision is order-independent.
type valueSample struct {
	hashes []uint64
	values []float64
}

func (s *valueSample) add(k int, h uint64, v float64) {
	n := len(s.hashes)
	if n >= k && h > s.hashes[n-1] {
		return
	}
	i := sort.Search(n, func(i int) bool { return s.hashes[i] >= h })
	if i < n && s.hashes[i] == h {
		if v < s.values[i] {
			s.values[i] = v
		}
		return
	}
	if n < k {
		s.hashes = append(s.hashes, 0)
		s.values = append(s.values, 0)
	} else {
		n-- // drop the largest
	}
	copy(s.hashes[i+1:], s.hashes[i:n])
	copy(s.values[i+1:], s.values[i:n])
	s.hashes[i], s.values[i] = h, v
}

func (s *valueSample) merge(k int, o *valueSample) {
	for i, h := range o.hashes {
		s.add(k, h, o.values[i])
	}
}

// vectorSample is a bottom-k sample of fixed-size vectors: hashes sorted,
// slots[i] the index of entry i's vector in arena (reused on eviction).
type vectorSample struct {
	hashes []uint64
	slots  []int32
	arena  []float32
}

func (s *vectorSample) vec(i, dims int) []float32 {
	o := int(s.slots[i]) * dims
	return s.arena[o : o+dims]
}

func (s *vectorSample) add(k, dims int, h uint64, v []float32) {
	n := len(s.hashes)
	if k <= 0 || (n >= k && h > s.hashes[n-1]) {
		return
	}
	i := sort.Search(n, func(i int) bool { return s.hashes[i] >= h })
	if i < n && s.hashes[i] == h {
		if old := s.vec(i, dims); slices.Compare(v, old) < 0 {
			copy(old, v)
		}
		return
	}
	var slot int32
	if n < k {
		slot = int32(len(s.arena) / dims)
		s.arena = append(s.arena, v...)
		s.hashes = append(s.hashes, 0)
		s.slots = append(s.slots, 0)
	} else {
		n--
		slot = s.slots[n]
		copy(s.arena[int(slot)*dims:], v)
	}
	copy(s.hashes[i+1:], s.hashes[i:n])
	copy(s.slots[i+1:], s.slots[i:n])
	s.hashes[i], s.slots[i] = h, slot
}

func (s *vectorSample) merge(k, dims int, o *vectorSample) {
	for i, h := range o.hashes {
		s.add(k, dims, h, o.vec(i, dims))
	}
}

// vectors returns the sample as float64 vectors in hash order.
func (s *vectorSample) vectors(dims int) [][]float64 {
	out := make([][]float64, len(s.hashes))
	flat := make([]float64, len(s.hashes)*dims)
	for i := range s.hashes {
		v := flat[i*dims : (i+1)*dims : (i+1)*dims]
		for j, x := range s.vec(i, dims) {
			v[j] = float64(x)
		}
		out[i] = v
	}
	return out
}

// labelKey orders labels for the deterministic caps: by hash, then by name.
type labelKey struct {
	h    uint64
	name string
}

func labelLess(a, b labelKey) bool {
	if a.h != b.h {
		return a.h < b.h
	}
	return a.name < b.name
}

// capped counts values of an open categorical feature, keeping the max
// labels with the smallest (hash, name) and counting the rest in other.
// Like the bottom-k samples, which labels are kept depends only on the set
// of labels seen, so merges are order-independent: a label evicted (its
// count moved to other) can never come back, because the labels that
// displaced it stay.
type capped struct {
	m     map[string]uint64
	other uint64
	worst labelKey // largest kept key when len(m) == cap
}

func (c *capped) add(max int, name string, n uint64) {
	if v, ok := c.m[name]; ok {
		c.m[name] = v + n
		return
	}
	if c.m == nil {
		c.m = make(map[string]uint64, 4)
	}
	k := labelKey{hashString(name), name}
	if len(c.m) >= max {
		if !labelLess(k, c.worst) {
			c.other += n
			return
		}
		c.other += c.m[c.worst.name]
		delete(c.m, c.worst.name)
	}
	c.m[cloneLabel(name)] = n
	if len(c.m) >= max {
		c.worst = labelKey{}
		first := true
		for name := range c.m {
			k := labelKey{hashString(name), name}
			if first || labelLess(c.worst, k) {
				c.worst, first = k, false
			}
		}
	}
}

func (c *capped) merge(max int, o *capped) {
	for name, n := range o.m {
		c.add(max, name, n)
	}
	c.other += o.other
}

func (c *capped) sortedKeys() []string {
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare[string])
	return keys
}

// groupCounts are the outcome counts of one segment group.
type groupCounts struct {
	n         uint64
	positives [maxOutcomes]uint64 // in the order of the partial's outcomes
	trials    [maxOutcomes]uint64
}

func (g *groupCounts) merge(o *groupCounts) {
	g.n += o.n
	for i := range g.positives {
		g.positives[i] += o.positives[i]
		g.trials[i] += o.trials[i]
	}
}

// segment holds the groups of one segment attribute, capped like capped.
type segment struct {
	groups map[string]*groupCounts
	other  groupCounts
	worst  labelKey
}

// group returns the counts of name, or the overflow counts, creating the
// group when it is kept.
func (s *segment) group(max int, name string) *groupCounts {
	if g, ok := s.groups[name]; ok {
		return g
	}
	k := labelKey{hashString(name), name}
	if len(s.groups) >= max {
		if !labelLess(k, s.worst) {
			return &s.other
		}
		s.other.merge(s.groups[s.worst.name])
		delete(s.groups, s.worst.name)
	}
	g := &groupCounts{}
	s.groups[cloneLabel(name)] = g
	if len(s.groups) >= max {
		first := true
		for name := range s.groups {
			k := labelKey{hashString(name), name}
			if first || labelLess(s.worst, k) {
				s.worst, first = k, false
			}
		}
	}
	return g
}

func (s *segment) merge(max int, o *segment) {
	for name, g := range o.groups {
		s.group(max, name).merge(g)
	}
	s.other.merge(&o.other)
}

func (s *segment) total() uint64 {
	t := s.other.n
	for _, g := range s.groups {
		t += g.n
	}
	return t
}
